// Media on a headless peer: bytes in <data>/media, beside the database and
// never in it; an acknowledged upload survives SIGKILL; orphans are swept.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { register, spawnPeer, tempRoot } from './harness.js'

/** 1 MiB that no database page could hold by accident. */
function picture () {
  const bytes = new Uint8Array(1 << 20)
  let x = 0x9e3779b9
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

async function upload (peer, token, body) {
  const res = await fetch(`${peer.url}/_matrix/media/v3/upload?filename=p.bin`, {
    method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }
  })
  return { status: res.status, body: await res.json() }
}

test('an acknowledged upload survives SIGKILL, as a file beside the database and not in it; orphans are swept once it is up', { timeout: 120000 }, async (t) => {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-peer-media-')
  let peer = await spawnPeer(dir)
  const token = await register(peer, 'photographer')
  const bytes = picture()
  const up = await upload(peer, token, bytes)
  assert.equal(up.status, 200, JSON.stringify(up.body))
  await peer.kill() // the moment the upload is acknowledged

  const mediaId = up.body.content_uri.split('/').pop()
  assert.deepEqual(new Uint8Array(await readFile(join(dir, 'media', 'local', mediaId))), bytes, 'the blob is not on disk whole')
  const marker = Buffer.from(bytes.subarray(4096, 4096 + 64))
  for (const name of await readdir(dir)) {
    if (name === 'media' || name === 'LOCK') continue
    assert.equal((await readFile(join(dir, name))).indexOf(marker), -1, `${name} holds the picture's bytes`)
  }
  await writeFile(join(dir, 'media', 'local', 'orphanFromACrash'), 'no row names me')

  peer = await spawnPeer(dir)
  stopLater(() => peer.stop())
  const res = await fetch(`${peer.url}/_matrix/client/v1/media/download/${peer.serverName}/${mediaId}`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(res.status, 200)
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes, 'the download after the kill differs')
  // The sweep runs beside the server once it is up, not before it answers.
  const sweptBy = Date.now() + 10_000
  let left = await readdir(join(dir, 'media', 'local'))
  while (left.length > 1 && Date.now() < sweptBy) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    left = await readdir(join(dir, 'media', 'local'))
  }
  assert.deepEqual(left, [mediaId], 'the orphan was not swept')

  const tooBig = await upload(peer, token, new Uint8Array((10 << 20) + 1))
  assert.deepEqual([tooBig.status, tooBig.body.errcode], [413, 'M_TOO_LARGE'])
  assert.deepEqual(await readdir(join(dir, 'media', 'local')), [mediaId], 'a refused upload left a file')
})
