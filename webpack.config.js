/**
 * Builds dist/, the whole deployable site (static files only, any CDN):
 *
 *   index.html, style.css   the page (copied from js/page/)
 *   page.js                 the page's client, target web
 *   sw.js                   the service worker, target webworker; at the root so its scope is '/'
 *   sql-wasm.wasm           sql.js's SQLite, found by the worker via locateFile
 *                           (as sql-wasm.wasm?v=<its hash>)
 *   config.json             deployer-editable settings (copied only if dist/ has none)
 *   hearth.wasm             the Go server: written by `make wasm`, not by webpack;
 *                           sw.js is stamped with its hash (buildStamp)
 *
 * `npm run build` runs `make wasm` first, which also copies Go's wasm_exec.js
 * into build/, where js/bridge/boot.js imports it from.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import webpack from 'webpack'

const root = dirname(fileURLToPath(import.meta.url))
const dist = join(root, 'dist')

/**
 * Emits files as they are. `keep: true` means a deployer's edited copy in
 * dist/ wins over the template (config.json).
 */
class CopyFilesPlugin {
  constructor (files) {
    this.files = files
  }

  apply (compiler) {
    compiler.hooks.thisCompilation.tap('CopyFilesPlugin', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'CopyFilesPlugin', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => {
          for (const { from, to, keep } of this.files) {
            compilation.fileDependencies.add(from)
            if (keep && existsSync(join(dist, to))) continue
            compilation.emitAsset(to, new webpack.sources.RawSource(readFileSync(from)))
          }
        })
    })
  }
}

/**
 * The build stamp sw.js carries: a hash of the hearth.wasm it goes with. A
 * new Go server changes sw.js's bytes too, so browsers install the new
 * worker (they compare only the worker script), and the worker fetches the
 * wasm as hearth.wasm?v=<stamp>, so no cache can pair it with another
 * build's wasm. 'dev' when there is no wasm yet.
 */
function buildStamp () {
  return contentStamp(join(dist, 'hearth.wasm'))
}

/** sql.js's wasm, copied to dist/; sw.js fetches it as sql-wasm.wasm?v=<its stamp>. */
const sqlWasm = join(root, 'node_modules/sql.js/dist/sql-wasm.wasm')

/** The first 16 hex digits of a file's SHA-256: its name in a content-addressed URL; 'dev' when it is missing. */
function contentStamp (file) {
  if (!existsSync(file)) return 'dev'
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)
}

const common = {
  mode: 'production',
  devtool: 'source-map',
  context: root,
  performance: { hints: false },
  resolve: {
    // sql.js's browser build needs none of these; say so instead of polyfilling.
    fallback: { fs: false, path: false, crypto: false }
  }
}

export default [
  {
    ...common,
    name: 'page',
    target: 'web',
    entry: { page: './js/page/main.js' },
    output: { path: dist, filename: '[name].js' },
    plugins: [
      new CopyFilesPlugin([
        { from: join(root, 'js/page/index.html'), to: 'index.html' },
        { from: join(root, 'js/page/style.css'), to: 'style.css' },
        { from: join(root, 'js/page/config.json'), to: 'config.json', keep: true }
      ])
    ]
  },
  {
    ...common,
    name: 'sw',
    target: 'webworker',
    entry: { sw: './sw/sw.js' },
    // One file: a service worker cannot load chunks after it is installed.
    output: { path: dist, filename: '[name].js' },
    plugins: [
      new webpack.optimize.LimitChunkCountPlugin({ maxChunks: 1 }),
      new webpack.DefinePlugin({
        __HEARTH_BUILD__: JSON.stringify(buildStamp()),
        __HEARTH_SQL_WASM__: JSON.stringify(contentStamp(sqlWasm))
      }),
      new CopyFilesPlugin([{ from: sqlWasm, to: 'sql-wasm.wasm' }])
    ]
  }
]
