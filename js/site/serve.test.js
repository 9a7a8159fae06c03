import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSite, resolveInside } from './serve.js'

let parent, dir, site

before(async () => {
  parent = await mkdtemp(join(tmpdir(), 'hearth-site-'))
  dir = join(parent, 'dist')
  await mkdir(join(dir, 'sub'), { recursive: true })
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>')
  await writeFile(join(dir, 'sw.js'), 'self.x = 1')
  await writeFile(join(dir, 'hearth.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))
  await writeFile(join(dir, 'config.json'), '{}')
  await writeFile(join(dir, 'style.css'), 'body{}')
  await writeFile(join(dir, 'sub', 'index.html'), 'sub')
  await writeFile(join(parent, 'secret.txt'), 'secret')
  site = await startSite({ dir, port: 0 })
})

after(async () => {
  await site?.close()
  await rm(parent, { recursive: true, force: true })
})

/** A raw GET, so that "../" reaches the server unnormalised. */
function get (path, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: site.port, path, method, headers }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('url is on 127.0.0.1 with the picked port', () => {
  assert.equal(site.url, `http://127.0.0.1:${site.port}/`)
  assert.ok(site.port > 0)
})

test('MIME types', async (t) => {
  const cases = [
    ['/', 'text/html; charset=utf-8'],
    ['/index.html', 'text/html; charset=utf-8'],
    ['/sw.js', 'text/javascript; charset=utf-8'],
    ['/hearth.wasm', 'application/wasm'],
    ['/config.json', 'application/json; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/sub/', 'text/html; charset=utf-8']
  ]
  for (const [path, type] of cases) {
    await t.test(path, async () => {
      const res = await get(path)
      assert.equal(res.status, 200)
      assert.equal(res.headers['content-type'], type)
      assert.equal(res.headers['cache-control'], 'no-cache')
    })
  }
})

test('wasm bytes arrive unchanged', async () => {
  const res = await get('/hearth.wasm')
  assert.deepEqual([...res.body], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])
})

test('query strings are ignored', async () => {
  const res = await get('/sw.js?v=2')
  assert.equal(res.status, 200)
  assert.equal(res.body.toString(), 'self.x = 1')
})

test('missing files and folders without index are 404', async () => {
  for (const path of ['/nope.js', '/sub/nope', '/_matrix/client/versions']) {
    const res = await get(path)
    assert.equal(res.status, 404, path)
  }
})

test('no directory traversal', async (t) => {
  for (const path of ['/../secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt',
    '/..%2fsecret.txt', '/sub/%2e%2e%2f%2e%2e%2fsecret.txt', '/..%5csecret.txt', '/%00', '/%zz']) {
    await t.test(path, async () => {
      const res = await get(path)
      assert.equal(res.status, 404)
      assert.ok(!res.body.toString().includes('secret'))
    })
  }
})

test('resolveInside', () => {
  assert.equal(resolveInside('/srv/d', '/a.js'), '/srv/d/a.js')
  assert.equal(resolveInside('/srv/d', '/'), '/srv/d/index.html')
  assert.equal(resolveInside('/srv/d', '/../d2/x'), null)
  assert.equal(resolveInside('/srv/d', '/%2e%2e/d2/x'), null)
})

test('HEAD has headers and no body; other methods are refused', async () => {
  const head = await get('/sw.js', { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  assert.equal(head.headers['content-length'], '10')
  const post = await get('/sw.js', { method: 'POST' })
  assert.equal(post.status, 405)
})

test('If-Modified-Since gives 304', async () => {
  const first = await get('/sw.js')
  const again = await get('/sw.js', { headers: { 'If-Modified-Since': first.headers['last-modified'] } })
  assert.equal(again.status, 304)
})
