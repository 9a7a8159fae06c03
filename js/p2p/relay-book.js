/**
 * Where a peer keeps the relays it learned from its relays (index.js,
 * options.relayBook), so that the next start can use them when the relays it
 * was given are down: "many relays, none essential" across restarts.
 *
 *   indexedDBRelayBook()  browsers (the service worker): one IndexedDB record
 *   fileRelayBook(path)   Node (headless peers): a JSON file, replaced atomically
 *
 * Both keep a list of multiaddr strings and nothing else; index.js checks
 * each (relayAddrsFrom) before using it, as it does relays learned live.
 */

const STORE = 'relays'
const KEY = 'learned'

/** @param {{name?: string, indexedDB?: IDBFactory}} [options] */
export function indexedDBRelayBook ({ name = 'hearth-relays', indexedDB = globalThis.indexedDB } = {}) {
  const open = () => new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1)
    req.onupgradeneeded = () => req.result.createObjectStore(STORE)
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
  const inStore = async (mode, fn) => {
    const db = await open()
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode)
        const req = fn(tx.objectStore(STORE))
        tx.oncomplete = () => resolve(req.result)
        tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
      })
    } finally {
      db.close()
    }
  }
  return {
    load: async () => (await inStore('readonly', store => store.get(KEY))) ?? [],
    save: (addrs) => inStore('readwrite', store => store.put([...addrs], KEY))
  }
}

/** @param {string} path a file in the peer's data directory */
export function fileRelayBook (path) {
  // Node only: keep bundlers from following these into node:fs.
  const fs = () => import(/* webpackIgnore: true */ 'node:fs/promises')
  return {
    async load () {
      const { readFile } = await fs()
      try {
        const list = JSON.parse(await readFile(path, 'utf8'))
        return Array.isArray(list) ? list : []
      } catch (err) {
        if (err.code === 'ENOENT') return []
        throw err
      }
    },
    async save (addrs) {
      const { writeFile, rename } = await fs()
      await writeFile(`${path}.tmp`, JSON.stringify([...addrs]))
      await rename(`${path}.tmp`, path)
    }
  }
}
