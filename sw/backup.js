/**
 * Backups in the service worker, where the data is (js/backup's format):
 *
 *   POST /_hearth/backup/export   Authorization: Bearer <a token of this server>
 *                                 body {"passphrase": "…"}
 *        → 200 {"url"}: a one-time download link, valid for a minute
 *   GET  /_hearth/backup/download/<ticket>   (that link; the page opens it as a download)
 *        → 200, the backup file as a stream (Content-Disposition: attachment), encrypted
 *          as the browser's download manager reads it and written straight to disk:
 *          the file is never held in memory, in the worker or the page
 *        → 410 {"name": "BackupLinkError", …}: used already or expired
 *   POST /_hearth/backup/import   X-Hearth-Passphrase: <encodeURIComponent(passphrase)>
 *                                 body: the backup file
 *        → 200 {"serverName"}: this worker's server is replaced; the page must
 *          restart the worker (unregister, reload) to run the imported one
 *        → 4xx {"name", "message"}: BackupPassphraseError, BackupCorruptError,
 *          BackupTargetNotEmptyError, …; nothing changed
 *
 * Progress goes to pages on the status channel as {type: MSG.backupProgress, progress};
 * an export ends with phase 'done' (bytesWritten: the file's size) or 'failed'.
 *
 * The export never holds the server: it reads what storage already made
 * durable (the last snapshot's chunks from IndexedDB, one at a time, and the
 * journal since; Storage.durableState), encrypting a chunk at a time between
 * requests, and snapshots wait until it is done. The import
 * goes only into a server without accounts or rooms (a first visit: the fresh
 * server Go made on boot), and Go cannot run twice in one worker, so the new
 * state is written for the next worker life.
 */
import { BackupTargetNotEmptyError, backupContents, readBackup, writeBackup } from '../js/backup/index.js'
import { restoreSnapshot } from '../js/storage/index.js'
import { request as idbRequest } from '../js/storage/indexeddb-persistence.js'

/** Every backup path starts so. */
export const BACKUP_PATH_PREFIX = '/_hearth/backup/'
export const BACKUP_PATHS = Object.freeze({ export: `${BACKUP_PATH_PREFIX}export`, download: `${BACKUP_PATH_PREFIX}download/`, import: `${BACKUP_PATH_PREFIX}import` })
/** Chunks queued for the reader (the download) before the writer waits for it. */
const QUEUED_CHUNKS = 8
/** How long an export's download link stays valid: the page opens it at once. */
const LINK_MS = 60_000
/**
 * How long the download may stop reading before the export gives up: it
 * writes to a local disk, and while it runs the storage takes no snapshots.
 */
const STALL_MS = 120_000

/** Whether the worker answers this path with createBackupRoutes. */
export const isBackupPath = (path) =>
  path === BACKUP_PATHS.export || path === BACKUP_PATHS.import || path.startsWith(BACKUP_PATHS.download)

/**
 * @param {object} components
 * @param {() => Promise<{opened: object, blobs: object}>} components.storage the running
 *   server's createStorage() result and blob store, once booted
 * @param {(request: Request) => Promise<Response>} components.serve Go's client API
 * @param {(progress: object) => void} components.onProgress
 * @param {() => Promise<void>} components.retire stops this worker's server for good
 *   (network off, storage closed, server lock released) before an import writes
 * @param {string} components.storageName the IndexedDB name js/storage uses
 * @returns {(request: Request) => Promise<Response>}
 */
export function createBackupRoutes ({ storage, serve, onProgress, retire, storageName }) {
  /** ticket → passphrase of the exports asked for and not yet downloaded */
  const links = new Map()

  async function exportBackup (request) {
    await storage()
    const who = await serve(new Request(new URL('/_matrix/client/v3/account/whoami', request.url), {
      headers: { authorization: request.headers.get('authorization') ?? '' }
    }))
    if (!who.ok) return failure(401, { name: 'BackupAuthError', message: 'log in to export this server' })
    const { passphrase } = await request.json()
    if (typeof passphrase !== 'string' || passphrase.length === 0) {
      return failure(400, { name: 'BackupPassphraseError', message: 'an export needs a passphrase' })
    }
    const ticket = Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, '0')).join('')
    links.set(ticket, passphrase)
    setTimeout(() => links.delete(ticket), LINK_MS)
    return Response.json({ url: BACKUP_PATHS.download + ticket })
  }

  /** The file itself, streamed to the browser's download as it is encrypted. */
  async function downloadBackup (request) {
    const ticket = new URL(request.url).pathname.slice(BACKUP_PATHS.download.length)
    const passphrase = links.get(ticket)
    links.delete(ticket)
    if (passphrase === undefined) {
      onProgress({ direction: 'export', phase: 'failed', error: 'the download link was used already or has expired' })
      return failure(410, { name: 'BackupLinkError', message: 'this export link was used already or has expired: export again' })
    }
    const { opened, blobs } = await storage()
    const contents = await backupContents(opened, blobs)
    let wake = null
    let cancelled = null
    let controller
    const body = new ReadableStream({
      start: (c) => { controller = c },
      pull: () => { wake?.(); wake = null },
      cancel: (reason) => { cancelled = reason ?? new Error('the page stopped reading'); wake?.() }
    }, { highWaterMark: QUEUED_CHUNKS })
    writeBackup({
      passphrase,
      contents,
      onProgress: (p) => onProgress({ direction: 'export', ...p }),
      write: async (bytes) => {
        if (cancelled) throw cancelled
        controller.enqueue(bytes)
        while (controller.desiredSize <= 0 && !cancelled) {
          let timer
          await new Promise(resolve => {
            wake = resolve
            timer = setTimeout(() => {
              cancelled = new Error(`the download read nothing for ${STALL_MS / 1000} s`)
              controller.error(cancelled)
              resolve()
            }, STALL_MS)
          })
          clearTimeout(timer)
        }
      }
    }).then(() => controller.close(), (err) => {
      onProgress({ direction: 'export', phase: 'failed', error: err.message })
      if (!cancelled) controller.error(err)
    }).finally(contents.release)
    const date = new Date().toISOString().slice(0, 10)
    return new Response(body, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-disposition': `attachment; filename="hearth-${contents.serverName.slice(-8)}-${date}.hearth-backup"`,
        'x-hearth-server-name': contents.serverName,
        'x-hearth-database-bytes': String(contents.database.bytes)
      }
    })
  }

  async function importBackup (request) {
    const passphrase = decodeURIComponent(request.headers.get('x-hearth-passphrase') ?? '')
    const total = Number(request.headers.get('content-length')) || null
    const { opened, blobs } = await storage()
    const { rows } = await opened.exportSnapshot({ select: 'SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM rooms)' })
    if (rows[0][0] > 0) throw new BackupTargetNotEmptyError('this browser\'s server (it has accounts or rooms)')
    const stored = []
    let backup
    try {
      backup = await readBackup({
        passphrase,
        source: request.body ?? (await request.blob()).stream(),
        onBlob: async (key, bytes) => { await blobs.put(key, bytes); stored.push(key) },
        onProgress: ({ bytesRead }) => onProgress({ direction: 'import', bytesRead, totalBytes: total })
      })
    } catch (err) {
      for (const key of stored) await blobs.delete(key).catch(() => {})
      throw err
    }
    // Verified whole: only now does the fresh server give way to the imported one.
    await retire()
    await idbRequest(indexedDB.deleteDatabase(storageName))
    await restoreSnapshot({ persistence: 'indexeddb', name: storageName }, backup.database, backup.journal)
    onProgress({ direction: 'import', phase: 'done', serverName: backup.manifest.serverName })
    return Response.json({ serverName: backup.manifest.serverName })
  }

  return async (request) => {
    const path = new URL(request.url).pathname
    const route = request.method === 'POST'
      ? (path === BACKUP_PATHS.export ? exportBackup : path === BACKUP_PATHS.import ? importBackup : null)
      : (request.method === 'GET' && path.startsWith(BACKUP_PATHS.download) ? downloadBackup : null)
    if (!route) return failure(404, { name: 'NotFound', message: `no backup route ${request.method} ${path}` })
    try {
      return await route(request)
    } catch (err) {
      console.error('hearth: backup failed:', err)
      onProgress({ direction: path === BACKUP_PATHS.import ? 'import' : 'export', phase: 'failed', error: err.message })
      const status = err.name === 'BackupTargetNotEmptyError' ? 409 : err.name?.startsWith('Backup') ? 400 : 500
      return failure(status, { name: err.name ?? 'Error', message: err.message })
    }
  }
}

function failure (status, body) {
  return Response.json(body, { status })
}
