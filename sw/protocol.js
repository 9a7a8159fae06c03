/**
 * Messages between the page and the service worker: the server's start-up,
 * and the client port that carries the built-in client's Matrix requests
 * (below). Shared by sw/sw.js and js/page/.
 *
 * page -> worker   navigator.serviceWorker.controller.postMessage(msg)
 *   {type: MSG.status}   reply with the current status
 *   {type: MSG.boot}     start the server if it is not started; after a failure
 *                        before Go ran (download, compile), try again
 *   {type: MSG.claim}    take control of uncontrolled pages (after a hard reload)
 *   {type: MSG.skipWaiting} to a waiting (newer) worker: activate as soon as the
 *                        old one is idle. Install already asked for that, but
 *                        Chromium sometimes never re-checks (e2e/update.test.js
 *                        stuck 1 run in 5); each message makes it check again
 *   {type: MSG.directHost} with a MessagePort in ports[0]: this page hosts the
 *                        worker's WebRTC connections (js/p2p/direct/); one
 *                        tab at a time, sent again to each new worker life
 *   {type: MSG.keepAlive} sent every KEEP_ALIVE_MS while a page is open: each
 *                        message is an event, so the browser does not stop the
 *                        idle worker (and with it the p2p node); a worker the
 *                        browser restarted anyway boots the server again.
 *                        Replies like MSG.status. Never retries a failure.
 *   {type: MSG.clientHello} with a MessagePort in ports[0]: a worker that
 *                        answers MSG.clientRequest says so on it (see "The
 *                        client port" below); asked of each new controller
 *   {type: MSG.clientRequest, request} with a MessagePort in ports[0]: one
 *                        client-server API request, answered on that port
 *   Any of these may carry {debug: string}: libp2p log namespaces for the
 *   worker (the page's localStorage.debug), applied for this worker's life.
 * worker -> page   replies go to the asking client (event.source.postMessage);
 *   every change is also broadcast on the BroadcastChannel CHANNEL:
 *   {type: MSG.status, status}
 *   {type: MSG.openRoom, roomId, userId}  to every window: a person clicked the
 *                        notification of a message to userId in roomId (js/page/notifier.js)
 *   {type: MSG.backupProgress, progress}  an export or import under way (sw/backup.js):
 *     progress = {direction: 'export'|'import', phase?, databaseBytes?, databaseDone?,
 *     blobs?, blobsDone?, bytesRead?, totalBytes?, error?}
 *   The two paths do not keep order between them, so a page must drop a status
 *   older than one it already has: see isNewerStatus.
 *
 * The client port (sw/client-port.js, js/page/port-fetch.js). A page→worker
 * fetch costs the browser 2–3.5 ms of its own per request; a message event
 * answered on a MessagePort 0.4–0.5 ms (a message on a port held open 0.1 ms:
 * bench clientapi.browser.fetch-floor, port-floor). So the built-in client
 * sends its client-server API requests as messages, and the worker answers
 * each through the same path as a fetch event (answer() in sw/sw.js: boot,
 * the handover, Go; Server-Timing and Matrix errors included).
 *   Each request is a message event with a port of its own, not a message on
 *   one port held open: a port's messages are not events, so they neither keep
 *   the worker alive nor wake a stopped one, and a worker stopped as idle
 *   (Firefox with a 1 s idle timeout did so in the middle of a sign-up,
 *   e2e/firefox-idle.test.js) lost them without a word. An event's lifetime is
 *   a fetch's: waitUntil holds the worker until answered, and an update waits
 *   for it as for a fetch (sw/handover.js answers long-polls at once).
 *   MSG.clientHello: the worker answers on the port, and closes it:
 *     {hello: {life, build}}  (see status). Only a worker that says hello
 *     speaks this: a page fetches until then, so an older worker still
 *     controlling it during an update is used as before.
 *   MSG.clientRequest: request = {id, method, url, headers: [[name, value]], body: ArrayBuffer|null}
 *     (the body transferred); the page may send {id, abort: true} on the port
 *     when it gives up: Go's work is cancelled and no answer comes.
 *     The worker first says which life took the request: {id, accepted: life};
 *     then the answer, the last message on the port, then closed:
 *     {id, status, headers: [[name, value]], body: ArrayBuffer|null}, errors
 *     included (Matrix error JSON), the body transferred.
 *   A worker the browser kills (a crash, DevTools, CDP) answers nothing, so
 *   the page fails what waits with a TypeError, as fetch does on a network
 *   error (callers retry at once, and the retry wakes the next life):
 *   - a request a life accepted, when that life's lock (lifeLockName) is
 *     released or the page sees a later life of the same build;
 *   - when its controller changes, the requests no life accepted, and without
 *     Web Locks all of them. A controller replaced by an update still answers
 *     what it accepted: the new one activates once the old one's events are
 *     done (a createRoom failed then would have been made anyway).
 *   A request no life accepted is not failed when a later life of the same
 *   build shows up: a message event posted to a stopped worker wakes the next
 *   life, which takes it (a browser stops an idle worker between events, and
 *   a status of its next life can reach the page before that life has taken
 *   the request that woke it: failing it then failed a sign-up in
 *   e2e/firefox-idle.test.js).
 *
 * status = {phase, life, seq, build, handingOver?, loaded?, total?, serverName?, error?, failedPhase?, retryable?, waitingForPrevious, since, marks, p2p?}
 *   life: when this worker life began (epoch ms); a restarted worker has a larger one
 *   build: the worker's build stamp (the hash of its hearth.wasm; 'dev' unbuilt)
 *   handingOver: true once this worker stepped aside for a newer build's
 *   (refused a long-poll so that it can activate, sw/handover.js); absent before
 *   seq: counts the statuses of one worker life, from 1
 *   phase: 'idle' | 'downloading' | 'compiling' | 'starting' | 'ready' | 'failed'
 *   waitingForPrevious: true while storage waits for the previous worker's
 *   server to stop (after an update), alongside whatever phase is under way
 *   retryable: with 'failed', whether MSG.boot can try again in this worker
 *   (false once Go has run: the worker must be restarted, e.g. by closing all tabs)
 *   since: epoch ms when the worker entered this phase
 *   marks: when start-up steps happened in this worker life, epoch ms with
 *   sub-ms precision (performance.timeOrigin + performance.now(), so a page can
 *   subtract its own timeOrigin); each is absent until it happened:
 *     workerStarted       the worker script ran
 *     bootRequested       the first boot (the script of an activated worker, a page message or a server request)
 *     storageOpenStarted  sql.js and IndexedDB begin to open (alongside the wait for the server lock)
 *     serverLocked        the server lock was ours: storage reads from here
 *     storageSqlReady     sql.js compiled (alongside the read)
 *     storageRead         the snapshot's chunks and the journal read from IndexedDB
 *     storageImageOpened  the snapshot became sql.js's database
 *     storageOpened       storage loaded (snapshot read, journal replayed)
 *     downloadStarted     fetching hearth.wasm began
 *     downloadDone        its last byte arrived (streaming compile has been running since the first)
 *     compiled            the module was compiled
 *     goStarted           Go began to run (after compile; it waits for storage when it opens it)
 *     ready               Go said it can serve
 *     firstAnswer         the first request's answer left the worker (the status is said again then)
 *   Read-only diagnostics (the benchmark reads them); pages may ignore them.
 *   p2p: absent until the server is ready, then the network's status (sw/network.js):
 *     {state: 'starting'|'off'|'connecting'|'online'|'failed', peerId?, relays?: [{addr, online}],
 *      peers?: [server name], error?}
 */
export const CHANNEL = 'hearth-status'

export const MSG = Object.freeze({
  status: 'hearth:status',
  boot: 'hearth:boot',
  claim: 'hearth:claim',
  skipWaiting: 'hearth:skip-waiting',
  keepAlive: 'hearth:keep-alive',
  directHost: 'hearth:direct-host',
  openRoom: 'hearth:open-room',
  backupProgress: 'hearth:backup-progress',
  clientHello: 'hearth:client-hello',
  clientRequest: 'hearth:client-request'
})

/** ms between keep-alive messages: well under the ~30 s after which browsers stop idle workers. */
export const KEEP_ALIVE_MS = 10000

/**
 * The Web Lock each worker life holds from its first moment until it ends
 * (life: its status's life). A page that waits for it learns at once that
 * the life ended, however it ended: what that life accepted on the client
 * port will never be answered (js/page/port-fetch.js).
 */
export function lifeLockName (life) {
  return `hearth-life-${life}`
}

/**
 * Whether status `next` is newer than `previous` (null: none yet). A reply
 * and a broadcast may arrive in either order; without this a page could show
 * "downloading" after "failed" and stay there.
 */
export function isNewerStatus (previous, next) {
  if (!previous || previous.life === undefined || next.life === undefined) return true
  if (next.life !== previous.life) return next.life > previous.life
  return next.seq > previous.seq
}

/** Path prefixes on the worker's own origin that the Go server answers. */
export const SERVER_PATH_PREFIXES = Object.freeze(['/_matrix/', '/.well-known/matrix/'])

/** Paths on the worker's own origin that the Go server answers. */
export function isServerPath (pathname) {
  return SERVER_PATH_PREFIXES.some((prefix) => pathname.startsWith(prefix))
}
