/**
 * Backups from the page: export this browser's server to a file, import one
 * on a first visit, and the reminder that browser storage is fragile. The
 * work happens in the service worker (sw/backup.js), where the data is; the
 * page sends the passphrase, opens the one-time link the worker answers as a
 * download (the file streams from the worker to disk, never whole in memory),
 * and shows progress from the status channel.
 */
import { CHANNEL, MSG } from '../../sw/protocol.js'

const LAST_EXPORT_KEY = 'hearth.lastBackup'
const EXPORT_PATH = '/_hearth/backup/export'
const IMPORT_PATH = '/_hearth/backup/import'
/** An export with no progress for this long has stopped (the worker reports every 1 MiB chunk). */
const EXPORT_STALL_MS = 60000
/** Passphrases shorter than this are refused: the file may travel anywhere. */
const MIN_PASSPHRASE = 8

const $ = (id) => document.getElementById(id)
const mb = (n) => (n / 1e6).toFixed(1)

/** A failure the worker reported as {name, message}. */
class BackupFailure extends Error {
  constructor ({ name, message }) {
    super(message)
    this.name = name
  }
}

/** @returns {number|null} when the last export was saved (ms since the epoch) */
export function lastExport (storage = localStorage) {
  const at = Number(storage.getItem(LAST_EXPORT_KEY))
  return at > 0 ? at : null
}

/**
 * Wires the export dialog, the import dialog and the reminder.
 * @param {object} options
 * @param {() => string|null} options.accessToken the session's, for the export
 * @param {(form: HTMLElement, errorTarget: string, fn: () => Promise<void>) => Promise<void>} options.act
 * @returns {{refreshReminder: () => Promise<void>}}
 */
export function wireBackups ({ accessToken, act }) {
  const progressOf = (direction, render) => {
    const channel = new BroadcastChannel(CHANNEL)
    channel.onmessage = (event) => {
      if (event.data?.type === MSG.backupProgress && event.data.progress.direction === direction) render(event.data.progress)
    }
    return () => channel.close()
  }

  // ---- export ----
  const exportDialog = $('backup-export')
  $('backup-open').addEventListener('click', () => {
    $('backup-export-form').reset()
    $('backup-export-status').textContent = ''
    $('backup-export-progress').hidden = true
    if (!exportDialog.open) exportDialog.showModal()
  })
  $('backup-export-form').addEventListener('submit', (event) => {
    event.preventDefault()
    act($('backup-export-form'), 'backup-export-error', async () => {
      const passphrase = $('backup-passphrase').value
      if (passphrase.length < MIN_PASSPHRASE) throw new Error(`Use a passphrase of at least ${MIN_PASSPHRASE} characters.`)
      if (passphrase !== $('backup-passphrase-again').value) throw new Error('The two passphrases differ.')
      const bar = $('backup-export-progress')
      const status = $('backup-export-status')
      bar.hidden = false
      bar.removeAttribute('value')
      status.textContent = 'Deriving the key from the passphrase…'
      let settle
      const finished = new Promise((resolve, reject) => { settle = { resolve, reject } })
      // The worker reports every chunk; silence means it stopped (or was stopped).
      let stalled = null
      const watch = () => {
        clearTimeout(stalled)
        stalled = setTimeout(() => settle.reject(new Error('The export stopped: no progress for a minute. Try again.')), EXPORT_STALL_MS)
      }
      const stopProgress = progressOf('export', (p) => {
        watch()
        if (p.phase === 'database' || p.phase === 'media') {
          bar.max = 1
          bar.value = p.databaseBytes ? p.databaseDone / p.databaseBytes : 1
          status.textContent = `Database ${mb(p.databaseDone)} of ${mb(p.databaseBytes)} MB, media ${p.blobsDone} of ${p.blobs}`
        } else if (p.phase === 'done') {
          settle.resolve(p)
        } else if (p.phase === 'failed') {
          settle.reject(new Error(`The export failed: ${p.error}`))
        }
      })
      try {
        const res = await fetch(EXPORT_PATH, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken()}`, 'content-type': 'application/json' },
          body: JSON.stringify({ passphrase })
        })
        const body = await res.json()
        if (!res.ok) throw new BackupFailure(body)
        watch()
        download(body.url)
        const { bytesWritten } = await finished
        localStorage.setItem(LAST_EXPORT_KEY, String(Date.now()))
        bar.value = bar.max = 1
        status.textContent = `Saved the backup (${mb(bytesWritten)} MB) to your downloads. Once you import it elsewhere, stop or wipe this copy: ` +
          'two live copies of one server fork its rooms.'
        status.dataset.done = 'true'
        refreshReminder()
      } finally {
        stopProgress()
        clearTimeout(stalled)
      }
    })
  })

  // ---- import ----
  const importDialog = $('backup-import')
  $('auth-import').addEventListener('click', () => {
    $('backup-import-form').reset()
    $('backup-import-status').textContent = ''
    if (!importDialog.open) importDialog.showModal()
  })
  $('backup-import-form').addEventListener('submit', (event) => {
    event.preventDefault()
    act($('backup-import-form'), 'backup-import-error', async () => {
      const file = $('backup-file').files[0]
      if (!file) throw new Error('Choose the backup file.')
      const status = $('backup-import-status')
      const bar = $('backup-import-progress')
      bar.hidden = false
      bar.removeAttribute('value')
      status.textContent = 'Deriving the key from the passphrase…'
      const stop = progressOf('import', (p) => {
        if (p.bytesRead !== undefined && p.totalBytes) {
          bar.max = p.totalBytes
          bar.value = p.bytesRead
          status.textContent = `Read ${mb(p.bytesRead)} of ${mb(p.totalBytes)} MB`
        }
      })
      try {
        const res = await fetch(IMPORT_PATH, {
          method: 'POST',
          headers: { 'x-hearth-passphrase': encodeURIComponent($('backup-import-passphrase').value) },
          body: file
        })
        const body = await res.json()
        if (!res.ok) throw new BackupFailure(body)
        status.textContent = `Imported ${body.serverName}. Restarting…`
        // Go runs once per worker: the imported server starts in a new one.
        await (await navigator.serviceWorker.getRegistration())?.unregister()
        location.reload()
      } finally {
        stop()
      }
    })
  })

  // ---- reminder ----
  async function refreshReminder () {
    const el = $('backup-reminder')
    const at = lastExport()
    const persisted = await navigator.storage?.persisted?.().catch(() => false)
    el.dataset.persisted = String(Boolean(persisted))
    el.dataset.lastExport = at === null ? '' : String(at)
    const when = at === null ? 'never' : new Date(at).toLocaleString()
    el.textContent = persisted
      ? `Last backup: ${when}.`
      : `Last backup: ${when}. This browser has not promised to keep this server's data (it may clear it when space runs low): export a backup.`
    el.classList.toggle('warning', !persisted)
  }
  refreshReminder()
  return { refreshReminder }
}

/**
 * Opens a link as a download; the worker names the file (Content-Disposition).
 * A frame's navigation, not <a download>: Chromium fetches a download link
 * from the network without asking the service worker, but a navigation in
 * the worker's scope goes through it. The frame stays (hidden) after the
 * export: the browser owns the download by then, but the last chunks may
 * still be on their way to it.
 */
function download (url) {
  let frame = document.getElementById('backup-download')
  if (!frame) {
    frame = document.createElement('iframe')
    frame.id = 'backup-download'
    frame.hidden = true
    document.body.append(frame)
  }
  frame.src = url
}
