/**
 * Starting Hearth for matrix-js-sdk tests: the native server (built once per
 * run into a temp dir) or a headless peer (needs `npm run build`), and SDK
 * clients logged in against either.
 */
import { before, after } from 'node:test'
import { spawn, execFile } from 'node:child_process'
import { mkdtemp, rm, access } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const repo = fileURLToPath(new URL('../../', import.meta.url))

// matrix-js-sdk 43 calls Promise.withResolvers, which Node only has from 22 on.
// The polyfill is the spec's algorithm; it touches nothing else.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

// The SDK arms a long timer per request (http-api/utils.js timeoutSignal: 80 s
// and more for /sync) and its capability poller a 6-hour one, and stopClient
// clears neither, so the test process would idle for minutes after the last
// test. Long timers in this process are unref'd: they still fire while
// anything else keeps the process alive, but never keep it alive themselves.
const realSetTimeout = globalThis.setTimeout
globalThis.setTimeout = function (fn, ms, ...args) {
  const timer = realSetTimeout(fn, ms, ...args)
  if (ms >= 60000) timer.unref?.()
  return timer
}

const sdk = await import('matrix-js-sdk')
// The SDK also logs through its module-wide logger, not only the client's.
const { logger: sdkLogger } = await import('matrix-js-sdk/lib/logger.js')
sdkLogger.setLevel(process.env.SDK_DEBUG ? 'debug' : 'error')
export { sdk }

/** A logger that keeps the SDK's chatter out of test output but shows errors when asked. */
export const quietLogger = {
  trace () {}, debug () {}, info () {}, warn () {},
  error: (...args) => { if (process.env.SDK_DEBUG) console.error(...args) },
  getChild () { return quietLogger }
}

async function freePort () {
  const srv = createServer()
  await new Promise(resolve => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address()
  await new Promise(resolve => srv.close(resolve))
  return port
}

/** Spawns a process and waits for a line matching ready; returns a handle. */
async function spawnUntil (cmd, args, ready, { timeout = 60000 } = {}) {
  const child = spawn(cmd, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => { output += c })
  child.stderr.on('data', (c) => { output += c })
  const exited = new Promise(resolve => child.once('exit', resolve))
  const deadline = Date.now() + timeout
  while (!ready.test(output)) {
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${cmd} did not start:\n${output}`) }
    if (child.exitCode !== null) throw new Error(`${cmd} exited with ${child.exitCode}:\n${output}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { output: () => output, match: () => output.match(ready), stop: async () => { child.kill('SIGTERM'); await exited } }
}

/**
 * Builds the native server once for the calling test file (before its tests,
 * removed after them) and returns a function that starts it afresh.
 */
export function nativeServer () {
  let dir, bin
  const running = new Set()
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-sdk-bin-'))
    bin = join(dir, 'hearth')
    await promisify(execFile)('go', ['build', '-o', bin, './go/cmd/hearth'], { cwd: repo })
  })
  after(async () => {
    // A test that failed before its stopAfter left its server running, and
    // the file would wait for that process for ever.
    await Promise.all([...running].map((server) => server.stop()))
    await rm(dir, { recursive: true, force: true })
  })
  return async () => {
    const server = await startNative(bin)
    running.add(server)
    const stop = server.stop
    server.stop = async () => {
      running.delete(server)
      await stop()
    }
    return server
  }
}

/** Stops clients and the server however a test ends. */
export function stopAfter (t, server, clients) {
  t.after(async () => {
    for (const c of clients) c.stopClient()
    await server.stop()
  })
}

/** Starts the native server from bin with a fresh data directory. */
export async function startNative (bin) {
  const data = await mkdtemp(join(tmpdir(), 'hearth-sdk-'))
  const port = await freePort()
  const proc = await spawnUntil(bin, ['-addr', `127.0.0.1:${port}`, '-data', data], /listening on http:\/\/\S+ as (\S+)/)
  return {
    url: `http://127.0.0.1:${port}`,
    serverName: proc.match()[1],
    stop: async () => { await proc.stop(); await rm(data, { recursive: true, force: true }) }
  }
}

/** Whether the headless peer can run (dist/hearth.wasm is built). */
export async function peerBuilt () {
  try {
    await access(join(repo, 'dist', 'hearth.wasm'))
    return true
  } catch {
    return false
  }
}

/**
 * Starts a headless peer (`npm run peer`) with a fresh data directory; with
 * a relay multiaddr, waits until the peer is on the p2p network.
 */
export async function startPeer ({ relay } = {}) {
  const data = await mkdtemp(join(tmpdir(), 'hearth-sdk-peer-'))
  const port = await freePort()
  const args = [join(repo, 'js/peer/cli.js'), '--data', data, '--http-port', String(port)]
  if (relay) args.push('--relay', relay)
  const ready = relay ? /client API at (\S+)[\s\S]*on the p2p network|on the p2p network[\s\S]*client API at (\S+)/ : /client API at (\S+)/
  const proc = await spawnUntil(process.execPath, args, ready)
  return {
    url: proc.output().match(/client API at (\S+)/)[1].replace(/\/$/, ''),
    serverName: proc.output().match(/homeserver (\S+) is running/)?.[1],
    output: proc.output,
    stop: async () => { await proc.stop(); await rm(data, { recursive: true, force: true }) }
  }
}

/**
 * Registers username through the SDK (user-interactive auth, dummy stage),
 * then logs in with the password as a real client would, and returns a
 * client for that session (not started).
 */
export async function loggedInClient (baseUrl, username, password = 'correct horse') {
  const anon = sdk.createClient({ baseUrl, logger: quietLogger })
  try {
    await anon.registerRequest({ username, password })
  } catch (err) {
    if (err.httpStatus !== 401 || !err.data?.session) throw err
    await anon.registerRequest({ username, password, auth: { type: 'm.login.dummy', session: err.data.session } })
  }
  const login = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: username }, password })
  return sdk.createClient({
    baseUrl, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id, logger: quietLogger
  })
}

/** Starts a client's sync loop and resolves once its first sync is processed. */
export async function startSyncing (client, opts = {}) {
  const prepared = new Promise((resolve, reject) => {
    const onSync = (state, _prev, data) => {
      if (state === 'PREPARED') { client.off(sdk.ClientEvent.Sync, onSync); resolve() }
      if (state === 'ERROR') reject(data?.error ?? new Error('sync error'))
    }
    client.on(sdk.ClientEvent.Sync, onSync)
  })
  await client.startClient({ lazyLoadMembers: true, ...opts })
  await prepared
}

/** Resolves with the first emitted arguments for which pred holds; rejects after ms. */
export function waitFor (emitter, event, pred = () => true, ms = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.off(event, on); reject(new Error(`timed out waiting for ${event}`)) }, ms)
    function on (...args) {
      if (!pred(...args)) return
      clearTimeout(timer)
      emitter.off(event, on)
      resolve(args)
    }
    emitter.on(event, on)
  })
}

/** Polls cond until it holds; rejects after ms with what. */
export async function until (cond, what, ms = 15000) {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
