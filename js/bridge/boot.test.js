import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { startServer, BootError } from './boot.js'

// Each startServer runs one Go program in this realm and sets the bridge
// globals, so every successful start-up here runs in a child process; the
// failures before Go runs are checked in-process.

const here = fileURLToPath(new URL('.', import.meta.url))
const run = promisify(execFile)
let dir, wasm

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hearth-boot-'))
  wasm = join(dir, 'fake.wasm')
  await run('go', ['build', '-o', wasm, './testdata/fakeserver'], {
    cwd: here, env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' }
  })
})

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

/**
 * Runs startServer in a fresh Node process; returns what it printed as JSON.
 * how: 'file', 'bytes', or an http: URL of the wasm (then compiledFrom is
 * the URL of the Response compileStreaming was given, and cacheModes the
 * fetches' cache modes); options: more startServer options, as JS source.
 */
async function boot (mode, how = 'file', storage = '{ fake: true }', options = '') {
  const wasmArg = how === 'bytes' ? `await readFile(${JSON.stringify(wasm)})`
    : how === 'file' ? JSON.stringify(pathToFileURL(wasm).href)
      : JSON.stringify(how)
  const script = `
    import { startServer } from ${JSON.stringify(pathToFileURL(join(here, 'boot.js')).href)}
    import { callServe } from ${JSON.stringify(pathToFileURL(join(here, 'globals.js')).href)}
    import { readFile } from 'node:fs/promises'
    const phases = []
    const wasm = ${wasmArg}
    let compiledFrom
    const compileStreaming = WebAssembly.compileStreaming
    WebAssembly.compileStreaming = (response) => { compiledFrom = response.url; return compileStreaming(response) }
    const cacheModes = []
    const realFetch = globalThis.fetch
    globalThis.fetch = (url, init) => { cacheModes.push(init?.cache ?? 'default'); return realFetch(url, init) }
    try {
      const info = await startServer({ wasm, storage: ${storage}, args: [${JSON.stringify(mode)}],
        startTimeoutMs: 5000, onPhase: (e) => phases.push(e.phase), ${options} })
      const res = await callServe({ method: 'GET', url: '/x', headers: [] }, null)
      console.log(JSON.stringify({ ok: true, phases, serverName: info.serverName, storageSeen: info.storageSeen, storageWasPromise: info.storageWasPromise, status: res.status, compiledFrom, cacheModes }))
    } catch (err) {
      console.log(JSON.stringify({ ok: false, phases, name: err.name, phase: err.phase, message: err.message, goEnded: err.goEnded, cacheModes }))
    }
    process.exit(0)
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 20000 })
  return JSON.parse(stdout.trim().split('\n').pop())
}

test('a file: URL starts the server and reports every phase in order', async () => {
  const r = await boot('ready')
  assert.deepEqual(r, {
    ok: true,
    phases: ['downloading', 'downloading', 'compiling', 'starting', 'ready'],
    serverName: 'fake.test',
    storageSeen: true,
    storageWasPromise: false,
    status: 200,
    cacheModes: []
  })
})

// Chromium keeps the compiled code for the next start only when the compiler
// gets the fetched Response itself (a Response made from a stream has no URL
// and no cache entry); the download is still reported, from a clone.
test('over HTTP the compiler streams the fetched response itself, and the download is reported', async () => {
  const { startSite } = await import('../site/serve.js')
  const site = await startSite({ dir, port: 0, host: '127.0.0.1' })
  try {
    const url = `${site.url}fake.wasm`
    const r = await boot('ready', url)
    assert.equal(r.ok, true, r.message)
    assert.equal(r.compiledFrom, url)
    assert.deepEqual(r.phases.filter((p) => p !== 'downloading'), ['compiling', 'starting', 'ready'])
    assert.ok(r.phases.indexOf('downloading') === 0 && r.phases.lastIndexOf('downloading') < r.phases.indexOf('compiling'), r.phases.join())
    assert.deepEqual(r.cacheModes, ['default'], 'a URL not said to be immutable is revalidated as its headers ask')
  } finally {
    await site.close()
  }
})

// Chromium keeps V8's compiled code with the wasm's HTTP cache entry; code
// made in a worker life that revalidated the wasm was not used by later
// lives. A content-addressed URL is never revalidated.
test('an immutable wasm URL is fetched from the HTTP cache without revalidating', async () => {
  const { startSite } = await import('../site/serve.js')
  const site = await startSite({ dir, port: 0, host: '127.0.0.1' })
  try {
    const r = await boot('ready', `${site.url}fake.wasm`, undefined, 'immutable: true')
    assert.equal(r.ok, true, r.message)
    assert.deepEqual(r.cacheModes, ['force-cache'])
    // A failure the HTTP cache may have kept is asked for again, past the cache.
    const missing = await boot('ready', `${site.url}missing.wasm`, undefined, 'immutable: true')
    assert.equal(missing.ok, false)
    assert.match(missing.message, /HTTP 404/)
    assert.deepEqual(missing.cacheModes, ['force-cache', 'reload'])
  } finally {
    await site.close()
  }
})

// boot.js PROGRESS_INTERVAL_MS says why.
test('download progress is reported at most every 100 ms', async () => {
  const { startSite } = await import('../site/serve.js')
  const site = await startSite({ dir, port: 0, host: '127.0.0.1' })
  try {
    const timed = "onPhase: (e) => phases.push(e.phase === 'downloading' ? [performance.now(), e.loaded] : e.phase)"
    const r = await boot('ready', `${site.url}fake.wasm`, undefined, timed)
    assert.equal(r.ok, true, r.message)
    // Not the first report, before any byte (the download began), nor the
    // one as the last byte passes (it ended; it may come after 'compiling'
    // and is then left out).
    const size = (await readFile(wasm)).length
    const during = r.phases.filter(Array.isArray).filter(([, loaded]) => loaded > 0 && loaded < size)
    assert.ok(during.length >= 1, 'the download reports progress before it ends')
    for (let i = 1; i < during.length; i++) {
      assert.ok(during[i][0] - during[i - 1][0] >= 100, `reports ${i - 1} and ${i} came ${(during[i][0] - during[i - 1][0]).toFixed(1)} ms apart`)
    }
  } finally {
    await site.close()
  }
})

test('Go runs while storage is still opening, with a promise of it in hearthStorage', async () => {
  const r = await boot('ready', 'file', 'new Promise((resolve) => setTimeout(() => resolve({ fake: true }), 300))')
  assert.equal(r.ok, true, r.message)
  assert.equal(r.storageWasPromise, true)
  // Storage that opened before the compile ended is set as itself.
  assert.equal((await boot('ready')).storageWasPromise, false)
})

test('a storage that fails while Go waits for it fails start-up, and Go has ended: a new start is safe', async () => {
  const r = await boot('storage', 'file', 'new Promise((resolve, reject) => setTimeout(() => reject(new Error("disk on fire")), 300))')
  assert.equal(r.ok, false)
  assert.equal(r.name, 'BootError')
  assert.match(r.message, /cannot open storage: disk on fire/)
  assert.equal(r.goEnded, true)
})

test('bytes start the server too', async () => {
  const r = await boot('ready', 'bytes')
  assert.equal(r.ok, true)
  assert.deepEqual(r.phases, ['compiling', 'starting', 'ready'])
})

test('a ready global set after main first blocks still counts', async () => {
  const r = await boot('late')
  assert.equal(r.ok, true, r.message)
})

test('start-up failures are BootErrors that say why', async (t) => {
  const cases = [
    ['reject', /storage is broken/],
    ['exit', /exited during start-up \(exit code 3\)/],
    ['panic', /exited during start-up \(exit code 2\)/]
  ]
  for (const [mode, message] of cases) {
    await t.test(mode, async () => {
      const r = await boot(mode)
      assert.equal(r.ok, false)
      assert.equal(r.name, 'BootError')
      assert.equal(r.phase, 'starting')
      assert.match(r.message, message)
    })
  }
})

test('failures before Go runs', async (t) => {
  await t.test('not wasm', async () => {
    await assert.rejects(startServer({ wasm: new Uint8Array([1, 2, 3, 4]), storage: {} }),
      (err) => err instanceof BootError && err.phase === 'compiling')
  })
  await t.test('no storage', async () => {
    await assert.rejects(startServer({ wasm: new Uint8Array(8) }), (err) => err instanceof BootError && /storage/.test(err.message))
  })
  await t.test('storage fails to open', async () => {
    const bytes = await readFile(wasm)
    await assert.rejects(startServer({ wasm: bytes, storage: Promise.reject(new Error('disk on fire')) }),
      (err) => err instanceof BootError && /cannot open storage: disk on fire/.test(err.message))
  })
  await t.test('download fails', async () => {
    await assert.rejects(startServer({ wasm: 'http://127.0.0.1:9/hearth.wasm', storage: {} }),
      (err) => err instanceof BootError && err.phase === 'downloading')
  })
  await t.test('HTTP 404', async () => {
    const { startSite } = await import('../site/serve.js')
    const site = await startSite({ dir, port: 0 })
    try {
      await assert.rejects(startServer({ wasm: `${site.url}missing.wasm`, storage: {} }),
        (err) => err instanceof BootError && err.phase === 'downloading' && /HTTP 404/.test(err.message))
    } finally {
      await site.close()
    }
  })
})
