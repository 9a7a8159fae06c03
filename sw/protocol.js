/**
 * Messages between the page and the service worker about the server's
 * start-up. Shared by sw/sw.js and js/page/; nothing Matrix goes here.
 *
 * page -> worker   navigator.serviceWorker.controller.postMessage(msg)
 *   {type: MSG.status}   reply with the current status
 *   {type: MSG.boot}     start the server if it is not started; after a failure
 *                        before Go ran (download, compile), try again
 *   {type: MSG.claim}    take control of uncontrolled pages (after a hard reload)
 * worker -> page   replies go to the asking client (event.source.postMessage);
 *   every change is also broadcast on the BroadcastChannel CHANNEL:
 *   {type: MSG.status, status}
 *
 * status = {phase, loaded?, total?, serverName?, error?, failedPhase?, retryable?, waitingForPrevious, since, marks}
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
 *     bootRequested       the first boot (page message or server request)
 *     storageOpenStarted  the server lock was ours; sql.js and IndexedDB begin to open
 *     storageOpened       storage loaded (snapshot read, journal replayed)
 *     downloadStarted     fetching hearth.wasm began
 *     downloadDone        its last byte arrived (streaming compile has been running since the first)
 *     compiled            the module was compiled
 *     goStarted           Go began to run (after compile and storage, whichever came last)
 *     ready               Go said it can serve
 *   Read-only diagnostics (the benchmark reads them); pages may ignore them.
 */
export const CHANNEL = 'hearth-status'

export const MSG = Object.freeze({
  status: 'hearth:status',
  boot: 'hearth:boot',
  claim: 'hearth:claim'
})

/** Paths on the worker's own origin that the Go server answers. */
export function isServerPath (pathname) {
  return pathname.startsWith('/_matrix/') || pathname.startsWith('/.well-known/matrix/')
}
