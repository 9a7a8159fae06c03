/**
 * The static site: serves dist/ (the page, the service worker, the wasm) as
 * plain files. `npm start` (js/start.js) runs it; tests call startSite() on port 0.
 *
 * Everything the site serves is static, so any CDN can serve dist/ instead.
 * This server adds only what a CDN would: MIME types (application/wasm is
 * required by WebAssembly.instantiateStreaming), revalidation headers so a new
 * build is picked up, and refusal of paths outside the served folder.
 */
import { createServer } from 'node:http'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** MIME types by extension; anything else is application/octet-stream. */
export const MIME_TYPES = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json'
})

const DEFAULT_DIR = fileURLToPath(new URL('../../dist/', import.meta.url))

/**
 * Resolves a URL path to a file inside root, or null when it would leave root.
 * Decodes percent-escapes once, so "%2e%2e/" is caught like "../".
 * @param {string} root absolute folder
 * @param {string} urlPath the request's path, without query
 * @returns {string|null}
 */
export function resolveInside (root, urlPath) {
  let decoded
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return null
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null
  if (decoded.endsWith('/')) decoded += 'index.html'
  const file = resolve(root, '.' + (decoded.startsWith('/') ? decoded : '/' + decoded))
  return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : null
}

/**
 * Starts the static server.
 * @param {{dir?: string, port?: number, host?: string}} [options]
 *   dir defaults to dist/ in the repository; port 0 picks a free port.
 * @returns {Promise<{url: string, port: number, server: import('node:http').Server, close: () => Promise<void>}>}
 */
export async function startSite ({ dir = DEFAULT_DIR, port = 8080, host = '127.0.0.1' } = {}) {
  const root = resolve(dir)
  const server = createServer((req, res) => {
    handle(root, req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${err.message}\n`)
      else res.destroy(err)
    })
  })
  await new Promise((resolvePromise, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolvePromise()
    })
  })
  const address = server.address()
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shownHost}:${address.port}/`,
    port: address.port,
    server,
    close: () => new Promise((resolvePromise) => {
      server.close(() => resolvePromise())
      server.closeAllConnections()
    })
  }
}

async function handle (root, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD')
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n')
  }
  const path = new URL(req.url, 'http://site.invalid').pathname
  const file = resolveInside(root, path)
  if (file === null) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
  let info
  try {
    info = await stat(file)
  } catch {
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
  }
  if (!info.isFile()) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
  res.statusCode = 200
  res.setHeader('Content-Type', MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
  res.setHeader('Content-Length', info.size)
  // Revalidate every time: a new build (new wasm, new sw.js) must win at once.
  res.setHeader('Cache-Control', 'no-cache')
  res.setHeader('Last-Modified', info.mtime.toUTCString())
  res.setHeader('X-Content-Type-Options', 'nosniff')
  const since = Date.parse(req.headers['if-modified-since'] ?? '')
  if (!Number.isNaN(since) && Math.floor(info.mtimeMs / 1000) * 1000 <= since) {
    res.statusCode = 304
    res.removeHeader('Content-Length')
    return res.end()
  }
  if (req.method === 'HEAD') return res.end()
  await new Promise((resolvePromise, reject) => {
    const stream = createReadStream(file)
    stream.once('error', reject)
    res.once('close', resolvePromise)
    stream.pipe(res)
  })
}

function send (res, status, type, text) {
  res.statusCode = status
  res.setHeader('Content-Type', type)
  res.setHeader('Content-Length', Buffer.byteLength(text))
  res.end(text)
}
