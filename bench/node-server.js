/**
 * The real server (dist/hearth.wasm) under Node, for the benchmarks that
 * measure Go itself: the boundary, memory, and Go start-up per build flag.
 * One server per process (the bridge globals are per realm).
 *
 * Also a tiny Matrix client over callServe, so benchmarks can drive the
 * server exactly as the service worker does, minus the worker.
 *
 *   node --stack-size=8192 bench/node-server.js --startup WASM [DIR]
 *     boots WASM with in-memory storage (or the file journal in DIR) and
 *     prints {compileMs, goStartMs}
 *   node --stack-size=8192 bench/node-server.js --fill WASM DIR COUNT
 *     boots WASM on the file journal in DIR, sends COUNT messages to a new
 *     room of a new user, and stops
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startServer } from '../js/bridge/boot.js'
import { callServe } from '../js/bridge/globals.js'
import { createStorage } from '../js/storage/index.js'
import { createBlobStore } from '../js/blobs/index.js'

/** This file, for running it as a script. */
export const SELF = fileURLToPath(import.meta.url)

/**
 * Boots the server from wasm bytes with storage from createStorage(storageOptions)
 * (as wrapStorage returns it: a benchmark may time its calls) and media from
 * createBlobStore(blobOptions).
 * @returns {Promise<{info: object, memory: WebAssembly.Memory, storage: object, blobs: object, compileMs: number, goStartMs: number}>}
 *   storage: createStorage()'s result; blobs: createBlobStore()'s
 */
export async function bootServer ({ wasm, storageOptions = { persistence: 'memory' }, blobOptions = { persistence: 'memory' }, wrapStorage = (s) => s }) {
  const bytes = await readFile(wasm)
  const storage = await createStorage(storageOptions)
  const blobs = await createBlobStore(blobOptions)
  const at = {}
  const info = await startServer({
    wasm: bytes,
    storage: wrapStorage(storage.storage),
    blobs: blobs.blobs,
    onPhase: ({ phase }) => { at[phase] ??= performance.now() }
  })
  return {
    info,
    memory: info.memory,
    storage,
    blobs,
    compileMs: at.starting - at.compiling,
    goStartMs: at.ready - at.starting
  }
}

/** A Matrix client over callServe (no HTTP, no worker): register, createRoom, send, sync. */
export function matrixClient () {
  let token = null
  const origin = 'http://hearth.bench'
  /** body: a value sent as JSON; raw: bytes sent as they are (application/octet-stream) instead. */
  async function request (method, path, body, raw) {
    const headers = [['content-type', raw === undefined ? 'application/json' : 'application/octet-stream']]
    if (token) headers.push(['authorization', `Bearer ${token}`])
    const bytes = raw ?? (body === undefined ? null : new TextEncoder().encode(JSON.stringify(body)))
    const res = await callServe({ method, url: origin + path, headers }, bytes)
    const json = res.body.length ? JSON.parse(new TextDecoder().decode(res.body)) : {}
    return { status: res.status, json }
  }
  async function ok (method, path, body) {
    const res = await request(method, path, body)
    if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.json)}`)
    return res.json
  }
  return {
    request,
    ok,
    async register (username, password) {
      const first = await request('POST', '/_matrix/client/v3/register', { username, password })
      const done = await ok('POST', '/_matrix/client/v3/register', {
        username, password, auth: { type: 'm.login.dummy', session: first.json.session }
      })
      token = done.access_token
      return done
    },
    createRoom: (body) => ok('POST', '/_matrix/client/v3/createRoom', body),
    send: (roomId, txnId, text) => ok('PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txnId}`, { msgtype: 'm.text', body: text })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, wasm, dir, count] = process.argv.slice(2)
  const storageOptions = dir ? { persistence: 'file', dir } : undefined
  if (mode === '--startup') {
    const started = await bootServer({ wasm, storageOptions })
    console.log(JSON.stringify({ compileMs: started.compileMs, goStartMs: started.goStartMs }))
    process.exit(0)
  }
  if (mode === '--fill') {
    const started = await bootServer({ wasm, storageOptions })
    const client = matrixClient()
    await client.register('filler', 'filler-password')
    const { room_id: roomId } = await client.createRoom({})
    for (let i = 0; i < Number(count); i++) await client.send(roomId, `fill-${i}`, `message ${i}`)
    await started.info.stop()
    await started.storage.close()
    process.exit(0)
  }
}
