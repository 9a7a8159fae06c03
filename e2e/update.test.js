/**
 * Service worker updates and lives (issue 11), in Chromium and in Firefox
 * ESR: two tabs share one server; a worker the browser stopped starts again
 * for the next request; a new build (a changed hearth.wasm, so a new stamp in
 * sw.js, as `npm run build` makes) takes over on the next reload, keeps every
 * message sent before, and never runs beside the old server on one database
 * (the last step restarts the browser and finds every message).
 *
 * The site is a copy of dist/ in a temporary folder, rebuilt in place the way
 * a deploy would: the wasm gains a custom section (still valid, new bytes)
 * and sw.js's stamp is replaced by the new wasm's hash.
 *
 * Run `npm run build` first; then `node --test e2e/update.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBrowser, DIST, FIREFOX } from './browser.js'
import { steps } from './steps.js'
import { openSite, register, createRoom, openRoom, send, waitForMessages, STEP_TIMEOUT, BOOT_TIMEOUT } from './ui.js'

/** How long the old worker may take to finish (a /sync long-poll is at most 20 s) and the new one to start. */
const TAKEOVER_TIMEOUT = 20000 + BOOT_TIMEOUT

/** The stamp webpack.config.js puts in sw.js: the wasm's hash. */
const stampOf = wasm => createHash('sha256').update(wasm).digest('hex').slice(0, 16)

/** A copy of dist/ to rebuild in place, without a relay: this test is about one browser. */
async function siteCopy () {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-update-'))
  await cp(DIST, dir, { recursive: true })
  await writeFile(join(dir, 'config.json'), JSON.stringify({ relay: null }))
  return dir
}

/**
 * Deploys a "new build" into dir: hearth.wasm gains a custom section (id 0,
 * which engines skip), and sw.js's stamp becomes the new wasm's hash.
 * @returns {Promise<string>} the new stamp
 */
async function deployNewBuild (dir, label) {
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
function workerStatus (page) {
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

/** Polls the page's worker until check(status) holds; returns that status. */
async function waitForStatus (page, check, timeout, what) {
  const deadline = Date.now() + timeout
  let last = null
  while (Date.now() < deadline) {
    last = await workerStatus(page).catch(() => null)
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

for (const product of ['chrome', 'firefox']) {
  const skip = product === 'firefox' && !existsSync(FIREFOX) && `Firefox ESR is not installed at ${FIREFOX}`
  test(`${product}: two tabs share a server, a stopped worker restarts, a new build takes over on reload and keeps the data`, { timeout: 420000, skip }, async (t) => {
    const dir = await siteCopy()
    const env = await openBrowser({ name: `update-${product}`, dir, product })
    t.signal.addEventListener('abort', () => { env.close() }, { once: true })
    const { run, explain } = steps(t, [env])
    let first, second
    const before = ['before the update', 'second ✓']
    try {
      first = await env.newPage()
      const original = await run('first tab: sign up, a room, two messages', async () => {
        await openSite(first, env.site.url)
        await register(first, 'Updater', 'update password')
        await createRoom(first, { name: 'Versions' })
        for (const text of before) await send(first, text)
        await waitForMessages(first, before)
        return workerStatus(first)
      })

      await run('a second tab is served by the same worker life, and sees the messages', async () => {
        second = await env.newPage()
        await openSite(second, env.site.url)
        await second.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
        const status = await workerStatus(second)
        assert.equal(status.life, original.life, 'the second tab started a second server')
        await openRoom(second, 'Versions')
        await waitForMessages(second, before)
      })

      if (product === 'chrome') {
        // Firefox offers no way to stop a worker from outside (no CDP); the
        // keep-alive (sw/protocol.js) covers its idle stops.
        await run('the browser stops the worker: the next request starts it again', async () => {
          await env.stopWorkers(first)
          const status = await first.evaluate(() => fetch('/_matrix/client/versions').then(r => r.status))
          assert.equal(status, 200)
          const restarted = await waitForStatus(first, s => s.phase === 'ready', BOOT_TIMEOUT, 'the restarted worker did not get ready')
          assert.ok(restarted.life > original.life, 'the worker was not restarted')
        })
      }

      const stamp = await run('a new build is deployed; the next reload brings its worker, which takes over once the old one is gone', async () => {
        const stamp = await deployNewBuild(dir, 'v2')
        assert.notEqual(stamp, original.build)
        // waitForFunction polls on animation frames, which a background tab does not get
        await first.bringToFront()
        await first.reload({ waitUntil: 'domcontentloaded' })
        await waitForStatus(first, s => s.build === stamp && s.phase === 'ready', TAKEOVER_TIMEOUT, 'the new build did not take over')
        await first.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
        await openRoom(first, 'Versions')
        await waitForMessages(first, before)
        return stamp
      })

      const after = [...before, 'after the update']
      await run('both tabs are on the new server: a message sent in one shows in the other', async () => {
        await waitForStatus(second, s => s.build === stamp && s.phase === 'ready', STEP_TIMEOUT, 'the second tab stayed on the old build')
        await send(first, 'after the update')
        await waitForMessages(first, after)
        await second.bringToFront()
        await waitForMessages(second, after)
      })

      await run('the browser restarts: every message is in the database', async () => {
        await env.restartBrowser()
        first = await env.newPage()
        second = null
        await openSite(first, env.site.url)
        assert.equal((await workerStatus(first)).build, stamp)
        await first.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
        await openRoom(first, 'Versions')
        await waitForMessages(first, after)
      })
    } catch (err) {
      throw await explain(err, [
        { label: 'first tab', env, page: first, screenshot: `update-${product}-first-failure.png` },
        { label: 'second tab', env: { logs: [] }, page: second, screenshot: `update-${product}-second-failure.png` }
      ])
    } finally {
      await env.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
}
