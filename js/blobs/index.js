/**
 * js/blobs: media bytes beside the database (go/media's BlobStore on the JS
 * side), shaped as the hearthBlobs bridge global. Install the returned
 * `blobs` with provide(GLOBALS.blobs, blobs) (or its promise) before the wasm starts; its
 * shape is documented in js/bridge/globals.js and go/bridge/blobs_js.go.
 */
import { BRIDGE_VERSION } from '../bridge/globals.js'
import { persistError } from '../storage/errors.js'
import { BlobKeyError } from './errors.js'
import { validKey, validPrefix } from './keys.js'

export { BlobKeyError } from './errors.js'
export { validKey } from './keys.js'

/**
 * @param {object} [options]
 * @param {'memory'|'indexeddb'|'file'} [options.persistence='memory']
 * @param {string} [options.name='hearth'] 'indexeddb': the database is `${name}-media`
 * @param {string} [options.dir] 'file': the directory (the peer uses <data>/media)
 * @param {IDBFactory} [options.indexedDB] 'indexeddb' (default globalThis.indexedDB)
 * @returns {Promise<{blobs: object, close: () => Promise<void>}>}
 */
export async function createBlobStore (options = {}) {
  const backend = await chooseBackend(options)
  return { blobs: bridgeShape(backend), close: () => backend.close() }
}

async function chooseBackend (options) {
  switch (options.persistence ?? 'memory') {
    case 'memory': {
      const { memoryBlobs } = await import('./memory-blobs.js')
      return memoryBlobs()
    }
    case 'indexeddb': {
      const { indexedDBBlobs } = await import('./indexeddb-blobs.js')
      return indexedDBBlobs(options)
    }
    case 'file': {
      // Node only: keep bundlers from following this import into node:fs.
      const { fileBlobs } = await import(/* webpackIgnore: true */ './file-blobs.js')
      return fileBlobs(options)
    }
    default:
      throw new TypeError(`unknown persistence ${options.persistence}`)
  }
}

/** hearthBlobs: keys checked, failures as named errors (StorageQuotaError when full). */
function bridgeShape (backend) {
  const guarded = fn => async (key, ...args) => {
    if (!validKey(key)) throw new BlobKeyError(key)
    try {
      return await fn(key, ...args)
    } catch (err) {
      throw persistError(err)
    }
  }
  return Object.freeze({
    version: BRIDGE_VERSION,
    put: guarded((key, bytes) => {
      if (!(bytes instanceof Uint8Array)) throw new TypeError('put takes a Uint8Array')
      return backend.put(key, bytes)
    }),
    get: guarded(key => backend.get(key)),
    delete: guarded(key => backend.delete(key)),
    keys: async (prefix = '') => {
      if (!validPrefix(prefix)) throw new BlobKeyError(prefix)
      try {
        return await backend.keys(prefix)
      } catch (err) {
        throw persistError(err)
      }
    }
  })
}
