/**
 * A site of its own for tests of service worker updates: a copy of dist/ in a
 * temporary folder, rebuilt in place the way a deploy would (the wasm gains a
 * custom section, still valid, new bytes; sw.js's stamp becomes the new
 * wasm's hash), and the controlling worker's status as a page sees it.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DIST } from './browser.js'
import { BOOT_TIMEOUT } from './ui.js'

/** How long the old worker may take to finish (a /sync long-poll is at most 20 s) and the new one to start. */
export const TAKEOVER_TIMEOUT = 20000 + BOOT_TIMEOUT

/** The stamp webpack.config.js puts in sw.js: the wasm's hash. */
export const stampOf = wasm => createHash('sha256').update(wasm).digest('hex').slice(0, 16)

/** A copy of dist/ to rebuild in place, without a relay: this test is about one browser. */
export async function siteCopy (name = 'update') {
  const dir = await mkdtemp(join(tmpdir(), `hearth-${name}-`))
  await cp(DIST, dir, { recursive: true })
  await writeFile(join(dir, 'config.json'), JSON.stringify({ relay: null }))
  return dir
}

/**
 * Deploys a "new build" into dir: hearth.wasm gains a custom section (id 0,
 * which engines skip), and sw.js's stamp becomes the new wasm's hash.
 * @returns {Promise<string>} the new stamp
 */
export async function deployNewBuild (dir, label) {
  const wasmPath = join(dir, 'hearth.wasm')
  const wasm = await readFile(wasmPath)
  const name = Buffer.from('hearth-test-build')
  const payload = Buffer.from(label)
  const body = Buffer.concat([Buffer.from([name.length]), name, payload])
  assert.ok(body.length < 128, 'a one-byte LEB128 size')
  const next = Buffer.concat([wasm, Buffer.from([0, body.length]), body])
  const swPath = join(dir, 'sw.js')
  const sw = await readFile(swPath, 'utf8')
  const before = stampOf(wasm)
  assert.ok(sw.includes(before), `sw.js does not carry the stamp ${before} of its wasm: rebuild with \`npm run build\``)
  const after = stampOf(next)
  await writeFile(wasmPath, next)
  await writeFile(swPath, sw.replaceAll(before, after))
  return after
}

/** The controlling worker's status (sw/protocol.js), or null when the page has no controller. */
export function workerStatus (page) {
  return page.evaluate(() => new Promise((resolve) => {
    const sw = navigator.serviceWorker
    if (!sw.controller) return resolve(null)
    const timer = setTimeout(() => resolve(null), 3000)
    sw.addEventListener('message', (event) => {
      if (event.data?.type !== 'hearth:status') return
      clearTimeout(timer)
      resolve(event.data.status)
    })
    sw.controller.postMessage({ type: 'hearth:status' })
  }))
}

/**
 * Polls the page's worker until check(status) holds; returns that status.
 * It does not ask while a newer worker waits, as pages do not
 * (js/page/worker.js takeoverQuiet): a message would restart the old one.
 */
export async function waitForStatus (page, check, timeout, what) {
  const deadline = Date.now() + timeout
  let last = null
  while (Date.now() < deadline) {
    const newerWaits = await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.waiting != null)).catch(() => false)
    if (!newerWaits) last = await workerStatus(page).catch(() => null)
    if (last !== null && check(last)) return last
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  const registration = await page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration()
    if (r === undefined) return 'none'
    const state = w => w && w.state
    return r && { installing: state(r.installing), waiting: state(r.waiting), active: state(r.active) }
  }).catch(err => err.message)
  assert.fail(`${what}: the worker says ${JSON.stringify(last && { phase: last.phase, build: last.build, life: last.life, waitingForPrevious: last.waitingForPrevious, handingOver: last.handingOver })}, ` +
    `the registration ${JSON.stringify(registration)}`)
}
