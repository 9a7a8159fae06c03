/**
 * The contract between Go (compiled to wasm) and the JS layer, version 6
 * (2 added hearthP2P.deposit and hearthMailbox: mail through the relays;
 * 3 added hearthBlobs: media bytes out of the database; 4 added hearthPush:
 * notifications to push gateways; 5 has hearthP2P.peers take the peers to
 * watch: presence limited to them; 6 has hearthServe's heads in lines, not
 * JSON). hearthP2P, hearthMailbox, hearthBlobs and
 * hearthPush carry BRIDGE_VERSION; hearthStorage has its own.
 *
 * Go and JS share exactly these globals on globalThis; the Go side of the
 * same list is go/bridge/globals_js.go. Change both together and bump
 * BRIDGE_VERSION when a shape changes. Nothing else in the JS layer reads or
 * writes these globals: other modules call the helpers exported here.
 *
 * | global        | set by | shape                                                  |
 * | ------------- | ------ | ------------------------------------------------------ |
 * | hearthServe   | Go     | (request) => Promise<response>                         |
 * | hearthReady   | Go     | Promise<{version, serverName, signingKey, stop}>, or rejects |
 * | hearthStorage | JS     | the SQLite database, see js/storage (before Go starts) |
 * | hearthP2P     | JS     | outgoing federation over libp2p, see js/p2p            |
 * | hearthMailbox | Go     | takes mail and notices from our relay mailboxes        |
 * | hearthBlobs   | JS     | media bytes beside the database, see js/blobs          |
 * | hearthPush    | JS     | POSTs to push gateways (HTTP pushers), see js/push     |
 *
 * request  = {head: string, body: Uint8Array | null, signal?: AbortSignal}
 * signal (optional) cancels the Go handler's context when it aborts: the page
 * that fetched went away, the HTTP client hung up, the libp2p stream was reset.
 * signingKey is Uint8Array(64): the ed25519 seed || public key, so libp2p runs
 * as the same identity as the Matrix server (server name = peer ID).
 * stop() asks Go to stop its background work and exit (startServer's stop
 * waits for that): a headless peer inside a larger program ends its Go with
 * it. A later addition to version 5: JS that never calls it is unaffected.
 *
 * head     = lines joined by "\n": method, url (absolute, or path + query), the libp2p
 *            peer ID a federation request came from ("" for a local one), then each
 *            header's name and value, a line each (encodeServeHead)
 * response = {head: string, body: Uint8Array}
 * head     = lines joined by "\n": status, then each header's name and value
 * No line holds CR, LF or NUL: encodeServeHead refuses such a request head,
 * and Go makes them spaces in response header values. Lines, not JSON: Go's
 * encoding/json in wasm cost 40–70 µs a head (go/bridge/servehead.go).
 *
 * ## hearthStorage (version 2, set by JS before Go starts)
 *
 * Made by createStorage() in js/storage and installed with
 * provide(GLOBALS.storage, storage). One SQLite database (sql.js) with commit
 * durability; the Go side is go/bridge/storage_js.go. It may be installed as a
 * promise of the object while it still opens (boot.js does): Go waits for it
 * when it opens it, and a rejection is Go's start-up error. So may hearthBlobs.
 *
 *   version                 2
 *   prepare(sql)            → handle: number | {name, message}
 *   paramsBuffer(size)      → the Uint8Array params are read from, at least size long
 *   resultBuffer()          → the Uint8Array results are written to
 *   run(handle, paramsLength) → the result's length: number | {name, message}
 *   query(sql, paramsLength)  → the result's length | {name, message}   (one-shot run)
 *   exec(sql)               → the length of a result without rows | {name, message}
 *                             (a script of statements, no params)
 *   finalize(handle)        → undefined
 *   begin()                 → undefined | {name, message}
 *   rollback()              → undefined | {name, message}
 *   commit()                → Promise<undefined>: resolves once durable,
 *                             rejects with a named Error
 *   stats()                 → {openStatements, handles, inTransaction,
 *                              seq, commits, journalBytesWritten, snapshots,
 *                              snapshotBytesWritten, persistFailures, reloads, …}
 *
 * Synchronous methods never throw: failures come back as {name, message}.
 * Names: SQLiteError, SQLiteConstraintError, StorageQuotaError (the browser
 * or disk is full: the commit did not happen; Go maps it to
 * M_RESOURCE_LIMIT_EXCEEDED), StoragePersistError (the commit did not
 * happen, and never will), StorageOutcomeUnknownError (a commit may or may
 * not be durable; the storage closed), StorageTransactionError,
 * StorageClosedError.
 *
 * A write outside begin()/commit() autocommits and its result has the
 * commit-required flag: call commit() to make it durable.
 *
 * params and result are binary, little-endian (js/storage/codec.js), so
 * int64 and every other SQLite value cross exactly:
 *   value  = u8 tag, payload: 0 NULL | 1 INTEGER i64 | 2 REAL f64
 *            | 3 TEXT u32 length + UTF-8 | 4 BLOB u32 length + bytes
 *   params = u32 count, count × (u32 name length, name, value); or null
 *   result = u8 flags (bit 0: commit required), i64 changes,
 *            i64 last insert rowid, u32 columns, columns × (u32 length, name),
 *            u32 rows, rows × columns × value
 * They cross in the two buffers, which outlive the calls: Go writes params to
 * the start of paramsBuffer and passes their length (-1 for none), and reads
 * the result from the start of resultBuffer. A statement makes no JS object
 * (each one Go refers to costs it a finalizer). resultBuffer is replaced only
 * by a larger one, in the call whose result did not fit the old one.
 *
 * ## hearthP2P (version 6, set by JS; js/p2p/bridge.js makes it from a js/p2p node)
 *
 *   {version: 6,
 *    roundTrip(peerId: string, request, options?: {signal: AbortSignal}) => Promise<response>,
 *    deposit(peerId: string, ref: string, sealed: Uint8Array, options?: {signal: AbortSignal})
 *      => Promise<{relay: string, expiresAt: number}>,
 *    peers(watch?: string[]) => string[]}
 *   peerId is the destination server name (a libp2p peer ID, "12D3KooW..."); the
 *   request head's url is path + query. Rejections are Errors named
 *   PeerUnreachableError (fails fast), P2PTimeoutError, P2PProtocolError,
 *   P2PTooLargeError (head > 64 KiB, body > 16 MiB) or P2PNotRunningError.
 *   peers(watch) lists the server names currently reachable through the relay of
 *   those watched; given an array, it first makes that the watched set (Go passes
 *   the servers it shares rooms with: no peer learns a relay's whole population).
 *   Incoming federation streams reach Go through hearthServe with head.peer set
 *   to the sender; only /_matrix/federation/ and /_matrix/key/ paths get there.
 *
 *   deposit leaves mail for a peer that is away in its mailbox on one of our
 *   relays (tried in order until one stores it; js/p2p/mailbox.js). ref is the
 *   sender's transaction ID (1–100 of [A-Za-z0-9._~-]); (sender, peerId, ref) is
 *   stored once, so a repeated deposit is harmless. sealed is the payload
 *   already sealed to peerId by Go: the relay sees sender, recipient, size and
 *   times only. Resolves once the relay has it on disk: relay = its peer ID,
 *   expiresAt = ms since epoch when it drops the mail unread. Rejections are
 *   Errors named MailboxFullError (the recipient's quota or the relay's cap),
 *   MailboxRateLimitedError (retryAfterMs), MailboxTooLargeError,
 *   MailboxUnavailableError (no relay of ours keeps mail, none knows the
 *   recipient, or none answered), MailboxBadRequestError (bad ref) or
 *   P2PNotRunningError. All mean "keep it queued and retry with back-off".
 *
 * ## hearthMailbox (version 6, set by Go like hearthServe; called through deliverMail / deliverNotice)
 *
 *   {version: 6,
 *    receive(from: string, sealed: Uint8Array) => Promise<void>,
 *    notice(kind: 'delivered'|'expired', to: string, ref: string) => Promise<void>}
 *   receive: one mail from our mailbox on a relay; from = the depositing peer
 *   (authenticated by the relay). Resolve = done with it (processed, or found
 *   undecipherable / forged / not for us: dropped and logged); JS then acks it
 *   and the relay deletes it and tells the sender "delivered". Reject = a
 *   transient failure (e.g. storage): not acked, the relay offers it again the
 *   next time our mailbox stream opens.
 *   notice: what became of mail we deposited for `to` under `ref`: delivered
 *   (the recipient acked it) or expired (dropped unread after the relay's TTL).
 *   Resolve = recorded; JS acks it and the relay forgets it.
 *
 * ## hearthBlobs (version 6, set by JS before Go starts; createBlobStore() in js/blobs)
 *
 *   {version: 6,
 *    put(key: string, bytes: Uint8Array) => Promise<void>,
 *    get(key: string) => Promise<Uint8Array | null>,
 *    delete(key: string) => Promise<void>,
 *    keys(prefix?: string) => Promise<string[]>}
 *   Media bytes and old events' JSON, beside the database: IndexedDB
 *   database `<name>-media` in a browser (not the journal's), files under
 *   <data dir>/media in Node. Keys: "local/<media ID>" (uploads),
 *   "remote/<server name>/<media ID>" (cache), "event/<stream position>"
 *   (go/room cold_events.go); others are refused (js/blobs/keys.js,
 *   go/media/keys.go). put resolves only once the bytes are durable and
 *   replaces what was there; a rejected put leaves nothing. get resolves
 *   null for a missing key; delete resolves for one too; keys() lists all
 *   (exports), keys(prefix) those under one of the three prefixes (the
 *   start-up sweep lists media's only; a compatible extension of version 5,
 *   as is the event/ prefix). Go commits a
 *   media row only after its put resolved and deletes the row before the
 *   blob, so a crash leaves at worst an orphan blob, swept at start-up.
 *   Rejections are Errors named StorageQuotaError (full: Go answers
 *   M_RESOURCE_LIMIT_EXCEEDED), BlobKeyError or StoragePersistError.
 *
 * ## hearthPush (version 6, set by JS before Go starts; createPushGateway() in js/push)
 *
 *   {version: 6,
 *    notify(url: string, body: Uint8Array, options?: {signal: AbortSignal})
 *      => Promise<{status: number, body: Uint8Array}>}
 *   POSTs body (the push gateway API's JSON notification) to an HTTP pusher's
 *   data.url with fetch and resolves with the status and at most 64 KiB of
 *   the answer, whatever the status. Rejects only when no answer came:
 *   PushNetworkError, or AbortError when the signal aborted. Go (package
 *   push) retries with back-off and removes pushers whose pushkeys the
 *   gateway rejects. Absent: Go pushes nothing (it still counts and lists).
 */

export const BRIDGE_VERSION = 6

export const GLOBALS = Object.freeze({
  serve: 'hearthServe',
  ready: 'hearthReady',
  storage: 'hearthStorage',
  p2p: 'hearthP2P',
  mailbox: 'hearthMailbox',
  blobs: 'hearthBlobs',
  push: 'hearthPush'
})

/** Statuses whose responses must not carry a body (Fetch spec "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])

/**
 * Hands one raw request to Go's serve global.
 * @param {{method: string, url: string, headers: Array<[string, string]>, peer?: string}} head
 * @param {Uint8Array|null} body
 * @param {{signal?: AbortSignal}} [options] signal: the caller no longer wants the answer
 * @returns {Promise<{status: number, headers: Array<[string, string]>, body: Uint8Array}>}
 */
export async function callServe (head, body, { signal } = {}) {
  const serve = globalThis[GLOBALS.serve]
  if (typeof serve !== 'function') {
    throw new BridgeError('the Go server is not running (hearthServe is not set)')
  }
  const res = await serve({ head: encodeServeHead(head), body: body ?? null, signal })
  const lines = res.head.split('\n')
  const headers = []
  for (let i = 1; i + 1 < lines.length; i += 2) headers.push([lines[i], lines[i + 1]])
  return { status: Number(lines[0]), headers, body: res.body }
}

/**
 * hearthServe's request head (the contract above); throws a BridgeError
 * when a line would hold a line break (CR, LF or NUL).
 * @param {{method: string, url: string, headers: Array<[string, string]>, peer?: string}} head
 * @returns {string}
 */
export function encodeServeHead ({ method, url, headers, peer = '' }) {
  const lines = [method, url, peer]
  for (const [name, value] of headers) lines.push(name, value)
  for (const line of lines) {
    if (!isServeHeadLine(line)) {
      throw new BridgeError(`a request head line is not a string without line breaks: ${JSON.stringify(line)}`)
    }
  }
  return lines.join('\n')
}

/** Whether s may be a line of hearthServe's request head: a string without CR, LF or NUL. */
export function isServeHeadLine (s) {
  return typeof s === 'string' && !/[\r\n\0]/.test(s)
}

/**
 * Hands one mail from a relay mailbox to Go (createP2P's onMail calls it).
 * @param {string} from the depositing peer
 * @param {Uint8Array} bytes sealed to us
 * @returns {Promise<void>} resolves when Go is done with it (ack); rejects to have it offered again
 */
export async function deliverMail (from, bytes) {
  await mailboxGlobal().receive(from, bytes)
}

/**
 * Tells Go what became of mail it deposited (createP2P's onNotice calls it).
 * @param {'delivered'|'expired'} kind
 * @param {string} to the recipient
 * @param {string} ref Go's transaction ID for it
 * @returns {Promise<void>} resolves when Go recorded it (ack)
 */
export async function deliverNotice (kind, to, ref) {
  await mailboxGlobal().notice(kind, to, ref)
}

function mailboxGlobal () {
  const mailbox = globalThis[GLOBALS.mailbox]
  if (typeof mailbox?.receive !== 'function' || typeof mailbox?.notice !== 'function') {
    throw new BridgeError('the Go server takes no mail (hearthMailbox is not set)')
  }
  return mailbox
}

/**
 * Answers a Fetch API Request with Go's server: used by the service worker.
 * The answer's Server-Timing header says how long Go took (go;dur=ms, from
 * the call to hearthServe to its answer), so a page can tell Go's share of a
 * request from the rest (bench/browser.js reports it).
 * @param {Request} request
 * @param {{signal?: AbortSignal}} [options] cancels Go's handler (default: the request's own)
 * @returns {Promise<Response>}
 */
export async function serveFetch (request, { signal = request.signal } = {}) {
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  const body = hasBody ? (sentBodies.get(request) ?? new Uint8Array(await request.arrayBuffer())) : null
  const called = performance.now()
  const res = await callServe({
    method: request.method,
    url: request.url,
    headers: [...request.headers]
  }, body, { signal })
  const goMs = performance.now() - called
  // Bytes, not a stream, though a stream reached the page ~1 ms sooner (bench
  // clientapi.browser.fetch-floor): with streamed bodies one full CI run in three
  // saw a new build never activate (e2e/update.test.js). A page holding an unread
  // streamed answer, even of 8 KiB, sometimes left the next worker waiting
  // (a probe, 2026-12-04: 1 of 7 trials; none with bytes): a race in Chromium,
  // not a pipe that fills.
  const responseBody = NULL_BODY_STATUS.has(res.status) || request.method === 'HEAD' ? null : res.body
  const response = new Response(responseBody, { status: res.status, headers: res.headers })
  addServerTiming(response.headers, 'go', goMs)
  if (responseBody !== null) answeredBodies.set(response, responseBody)
  return response
}

/** Go's answer bytes by the Response serveFetch made of them. */
const answeredBodies = new WeakMap()

/** Request bodies' bytes by the Request made of them (withSentBody). */
const sentBodies = new WeakMap()

/**
 * Notes that request's body is bytes, so that serveFetch hands them to Go
 * without reading the body: a body read in a service worker waits for a
 * browser task, as answeredBody says, and a send from the client port
 * waited for one before Go saw it.
 * @param {Request} request made with bytes (or a copy of them) as its body
 * @param {Uint8Array} bytes
 * @returns {Request} request
 */
export function withSentBody (request, bytes) {
  sentBodies.set(request, bytes)
  return request
}

/**
 * The body of a Response that serveFetch made, as the bytes Go answered
 * with, without reading it; undefined for any other Response. In a service
 * worker a body read waits for a browser task, and before that task Go runs
 * whatever it has ready, such as the /sync a send woke: the client port's
 * answer to a send left 3 ms later for it (sw/client-port.js).
 * @param {Response} response
 * @returns {Uint8Array|undefined}
 */
export function answeredBody (response) {
  return answeredBodies.get(response)
}

/**
 * Adds name;dur=ms to the Server-Timing header, in the one value: Chromium
 * passes only the first of a worker answer's headers of one name to the page.
 */
export function addServerTiming (headers, name, ms) {
  const metric = `${name};dur=${ms.toFixed(1)}`
  const before = headers.get('Server-Timing')
  headers.set('Server-Timing', before === null ? metric : `${before}, ${metric}`)
}

/**
 * Resolves when Go says it can serve; rejects with Go's start-up error.
 * @returns {Promise<{version: number, serverName: string, signingKey: Uint8Array}>}
 */
export async function whenReady () {
  const ready = globalThis[GLOBALS.ready]
  if (ready === undefined) throw new BridgeError('the Go server did not start (hearthReady is not set)')
  const info = await ready
  if (info.version !== BRIDGE_VERSION) {
    throw new BridgeError(`bridge version mismatch: Go speaks ${info.version}, JS speaks ${BRIDGE_VERSION}`)
  }
  return info
}

/** Sets a JS-owned global (storage, blobs, p2p or push) for Go to find. */
export function provide (name, value) {
  if (name !== GLOBALS.storage && name !== GLOBALS.blobs && name !== GLOBALS.p2p && name !== GLOBALS.push) {
    throw new BridgeError(`${name} is not a JS-owned bridge global`)
  }
  globalThis[name] = value
}

export class BridgeError extends Error {
  constructor (message) {
    super(message)
    this.name = 'BridgeError'
  }
}

/**
 * Forgets the ready global of a Go that has ended (its start-up failed), so
 * that the next Go's is not mistaken for it. Call only before running Go.
 */
export function forgetReady () {
  delete globalThis[GLOBALS.ready]
}

/** True once Go has set its ready global (it may do so after main first blocks). */
export function readyIsSet () {
  return globalThis[GLOBALS.ready] !== undefined
}
