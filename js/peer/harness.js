/**
 * Headless peers as a user runs them, for tests and benchmarks: `node
 * js/peer/cli.js` in its own process (one Go server per JS realm), driven
 * over its HTTP client API. Needs `npm run build` (dist/hearth.wasm).
 *
 * Node only: import '../p2p/node-env.js' first.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('./cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Starts a peer process and resolves once it serves the client API (and,
 * given a --relay, once it is on the p2p network).
 * @param {string} dataDir
 * @param {string[]} [extraArgs] e.g. ['--relay', addr]
 * @param {{timeoutMs?: number}} [options]
 */
export async function spawnPeer (dataDir, extraArgs = [], { timeoutMs = 60000 } = {}) {
  const child = spawn(process.execPath, [cli, '--data', dataDir, '--http-port', '0', ...extraArgs], {
    cwd: repo, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const collect = (stream) => stream.on('data', (chunk) => { output += chunk })
  collect(child.stdout)
  collect(child.stderr)
  const exited = new Promise(resolve => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + timeoutMs
  while (!/client API at (\S+)/.test(output) || (extraArgs.includes('--relay') && !/on the p2p network/.test(output))) {
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`peer did not start:\n${output}`) }
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode}:\n${output}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return {
    url: output.match(/client API at (\S+)/)[1],
    serverName: output.match(/homeserver (\S+) is running/)[1],
    output: () => output,
    exited,
    stop: async () => { child.kill('SIGTERM'); return exited },
    kill: async () => { child.kill('SIGKILL'); return exited }
  }
}

/** Resolves once the peer's output contains `line`; throws with the output after ms. */
export async function waitForLine (peer, line, ms = 20_000) {
  const deadline = Date.now() + ms
  while (!peer.output().includes(line)) {
    if (Date.now() > deadline) throw new Error(`no "${line}":\n${peer.output()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** One client API call; resolves to {status, body} whatever the status. */
export async function call (peer, method, path, { token, body } = {}) {
  const res = await fetch(peer.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, body: await res.json() }
}

/** Like call, but a status other than 200 throws. */
export async function ok (peer, method, path, options) {
  const res = await call(peer, method, path, options)
  if (res.status !== 200) throw new Error(`${method} ${path} on ${peer.serverName}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

/** Registers a user (dummy auth) and resolves to its access token. */
export async function register (peer, username) {
  const body = { username, password: 'secret', auth: { type: 'm.login.dummy' } }
  return (await ok(peer, 'POST', '/_matrix/client/v3/register', { body })).access_token
}

/** Polls /sync until a message with this body shows in the room; resolves to every message body seen. */
export async function waitForMessage (peer, token, roomId, text, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs
  let since = ''
  const seen = []
  while (Date.now() < deadline) {
    const res = await ok(peer, 'GET', `/_matrix/client/v3/sync?timeout=2000${since ? `&since=${since}` : ''}`, { token })
    since = res.next_batch
    for (const ev of res.rooms?.join?.[roomId]?.timeline?.events ?? []) {
      if (ev.type === 'm.room.message') seen.push(ev.content.body)
    }
    if (seen.includes(text)) return seen
  }
  throw new Error(`"${text}" did not arrive on ${peer.serverName}; saw ${JSON.stringify(seen)}`)
}

/** The client API path of a room. */
export const roomPath = (roomId) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`

/** Sends a text message; resolves to its event ID. */
export async function say (peer, token, roomId, text) {
  const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`
  return (await ok(peer, 'PUT', `${roomPath(roomId)}/send/m.room.message/${txn}`, { token, body: { msgtype: 'm.text', body: text } })).event_id
}

/** The owner makes a private room and brings the guests in (invite, then join over federation). */
export async function privateRoom (owner, guests) {
  const roomId = (await ok(owner.peer, 'POST', '/_matrix/client/v3/createRoom', { token: owner.token, body: { preset: 'private_chat' } })).room_id
  for (const guest of guests) {
    await retry(`invite ${guest.user}`, () => call(owner.peer, 'POST', `${roomPath(roomId)}/invite`, { token: owner.token, body: { user_id: guest.user } }))
    await retry(`${guest.user} joins`, () => call(guest.peer, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${owner.peer.serverName}`, { token: guest.token, body: {} }))
  }
  return roomId
}

/** Repeats a client call until it answers 200: discovery through the relay takes a moment. */
export async function retry (what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  let res
  while (Date.now() < deadline) {
    res = await fn()
    if (res.status === 200) return res.body
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`)
}

/** The sender's view of where one of its messages is (org.hearth.delivery). */
export async function delivery (peer, token, roomId, eventId) {
  const path = `/_matrix/client/unstable/org.hearth.delivery/rooms/${encodeURIComponent(roomId)}/events?event_id=${encodeURIComponent(eventId)}`
  return (await ok(peer, 'GET', path, { token })).events[eventId]
}

/**
 * A temporary directory removed once the test is over, after the stops given
 * to stopLater (last first): node:test runs after-hooks in the order they
 * were added, so a removal added first ran while an imported peer was still
 * writing its first snapshot there (ENOTEMPTY), and that peer was never stopped.
 */
export async function tempRoot (t, prefix) {
  const root = await mkdtemp(join(tmpdir(), prefix))
  const stops = []
  t.after(async () => {
    for (const stop of stops.reverse()) await Promise.resolve().then(stop).catch(() => {})
    await rm(root, { recursive: true, force: true })
  })
  return { root, stopLater: stop => stops.push(stop) }
}
