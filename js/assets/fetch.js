/**
 * Fetching the build's own files by a content-addressed URL, one whose name
 * changes with the bytes (hearth.wasm?v=<hash>, sql-wasm.wasm?v=<hash>; see
 * webpack.config.js). Such a file is taken from the browser's HTTP cache
 * without revalidating it, whatever Cache-Control the host sends: a worker
 * start then waits on no network round trip for it, and Chromium's compiled
 * code kept beside the cache entry is used (code made in a life that had
 * revalidated the file never was).
 */

/**
 * fetch(url, init) from the HTTP cache if it holds url, else the network.
 * A failure the cache kept (a 404 while a deploy was half done; 404s are
 * cacheable) is asked for again past the cache, so it cannot stop every
 * later start.
 * @param {string|URL} url
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function fetchImmutable (url, init = {}) {
  const cached = await fetch(url, { ...init, cache: 'force-cache' })
  if (cached.ok) return cached
  return fetch(url, { ...init, cache: 'reload' })
}
