/**
 * size: what the site ships. Every file in dist/ but source maps, raw, gzip
 * (level 9) and brotli (quality 11, what a static host would pre-compress
 * with). The first-visit total, which needs a real page load, is measured by
 * the startup benchmark (bench/browser.js).
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { valueRow } from './rows.js'

const gzip = promisify(zlib.gzip)
const brotli = promisify(zlib.brotliCompress)

/**
 * Compressed sizes of bytes; the two run in the thread pool, in parallel.
 * brotliQuality 11 takes about 20 s for the wasm; 9 about 1 s (and ~14 % larger).
 */
export async function compressedSizes (bytes, { brotliQuality = 11 } = {}) {
  const [gz, br] = await Promise.all([
    gzip(bytes, { level: 9 }),
    brotli(bytes, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: brotliQuality,
        [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length
      }
    })
  ])
  return { raw: bytes.length, gzip: gz.length, brotli: br.length }
}

export async function size ({ dist }) {
  const files = (await readdir(dist)).filter((f) => !f.endsWith('.map')).sort()
  if (!files.includes('hearth.wasm')) throw new Error('dist/hearth.wasm is missing: run `npm run build` first')
  const sizes = await Promise.all(files.map(async (f) => [f, await compressedSizes(await readFile(join(dist, f)))]))
  const rows = []
  for (const [file, s] of sizes) {
    for (const kind of ['raw', 'gzip', 'brotli']) rows.push(valueRow(`size.${file}.${kind}`, 'bytes', s[kind]))
  }
  const total = (kind) => sizes.reduce((sum, [, s]) => sum + s[kind], 0)
  for (const kind of ['raw', 'gzip', 'brotli']) {
    rows.push(valueRow(`size.dist-total.${kind}`, 'bytes', total(kind), { samples: files.length, note: 'every file in dist/ but source maps' }))
  }
  return rows
}
