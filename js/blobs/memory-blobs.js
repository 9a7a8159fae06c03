/** Blobs in a Map: tests, and the wasm test runner. Nothing survives the process. */
export function memoryBlobs () {
  const blobs = new Map()
  return {
    async put (key, bytes) { blobs.set(key, bytes.slice()) },
    async get (key) { return blobs.get(key)?.slice() ?? null },
    async delete (key) { blobs.delete(key) },
    async keys (prefix = '') { return [...blobs.keys()].filter(key => key.startsWith(prefix)) },
    async close () {}
  }
}
