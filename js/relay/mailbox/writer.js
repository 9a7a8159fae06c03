/**
 * The mailbox store's one writer: group commit over better-sqlite3.
 *
 * better-sqlite3 is synchronous, and with synchronous=FULL every COMMIT waits
 * for the disk. One transaction per deposit would cost one fsync per message,
 * each stalling the relay's event loop (and so every relayed connection).
 * Instead, work submitted during one turn of the event loop runs in ONE
 * transaction on the next turn (setImmediate), each piece in its own savepoint
 * so a refused deposit rolls back alone. A promise settles only after that
 * COMMIT returned: resolved means on disk, which is what lets the relay answer
 * a deposit "ok" (a crash right after loses nothing acknowledged).
 *
 * Rules: every write to the database goes through write(); a job must not
 * call write() itself (it would wait for a batch that waits for it) and must
 * not await: it runs synchronously inside the transaction.
 */
import { MailboxStoreError } from '../../p2p/errors.js'

/**
 * @param {import('better-sqlite3').Database} db
 * @returns {{write: <T>(job: () => T) => Promise<T>, flush: () => void}}
 */
export function createWriter (db) {
  /** jobs waiting for the next batch: {job, resolve, reject} */
  let queue = []
  let scheduled = null
  const savepoint = db.transaction(job => job())
  const batch = db.transaction(entries => {
    for (const entry of entries) {
      try {
        entry.value = savepoint(entry.job)
        entry.ok = true
      } catch (err) {
        entry.error = err
      }
    }
  })

  const flush = () => {
    if (scheduled != null) clearImmediate(scheduled)
    scheduled = null
    const entries = queue
    queue = []
    if (entries.length === 0) return
    try {
      batch(entries)
    } catch (err) {
      // the COMMIT itself failed (disk full, I/O): nothing of the batch is stored
      const failed = new MailboxStoreError(`the mailbox store could not commit: ${err.message}`, { cause: err })
      for (const entry of entries) entry.reject(failed)
      return
    }
    for (const entry of entries) {
      if (entry.ok) entry.resolve(entry.value)
      else entry.reject(entry.error)
    }
  }

  return {
    write (job) {
      return new Promise((resolve, reject) => {
        queue.push({ job, resolve, reject })
        scheduled ??= setImmediate(flush)
      })
    },
    /** runs what is queued now (before closing the database) */
    flush
  }
}
