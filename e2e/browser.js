/**
 * Shared set-up for the browser end-to-end tests: Chromium via puppeteer-core
 * with a fresh profile, the site on an ephemeral port, and diagnostics (page
 * and service worker consoles, the worker's start-up status) for failures.
 *
 * Assumes `npm run build` has produced dist/. Chromium comes from CHROMIUM_PATH
 * or /usr/bin/chromium (Debian's package).
 */
import { mkdtemp, mkdir, rm, access, readdir, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import puppeteer from 'puppeteer-core'
import { startSite } from '../js/site/serve.js'

export const DIST = fileURLToPath(new URL('../dist/', import.meta.url))
export const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url))

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'
]

/**
 * Starts the site (dir, default dist/) and a browser. close() always stops both
 * and removes the profile; restartBrowser() (quit() then relaunch()) closes (or kills) the browser and
 * opens it again on the same profile and the same origin.
 *
 * workerConsole: attach DevTools to each service worker for its console
 * (Chromium). Tests of updates turn it off: with DevTools attached, Chromium
 * stops an outgoing worker for a waiting one even with events in flight;
 * those events start it again, a restarted worker no longer counts as
 * making way, and the new build then waits up to 5 minutes. Without
 * DevTools (as people run it) the outgoing worker stops only once idle.
 * @returns {Promise<{site, browser, logs: string[], log, newPage, stopWorkers, restartBrowser, quit, relaunch, close}>}
 */
export async function openBrowser ({ name = 'e2e', dir = DIST, product = 'chrome', firefoxPrefs = {}, workerConsole = true } = {}) {
  for (const file of ['index.html', 'page.js', 'sw.js', 'hearth.wasm', 'sql-wasm.wasm']) {
    try {
      await access(join(dir, file))
    } catch {
      throw new Error(`dist/${file} is missing: run \`npm run build\` first`)
    }
  }
  await mkdir(ARTIFACTS, { recursive: true })
  const profile = await mkdtemp(join(tmpdir(), `hearth-${name}-`))
  const logs = []
  const log = (line) => logs.push(`${new Date().toISOString().slice(11, 23)} ${line}`)
  let site, browser
  try {
    site = await startSite({ dir, port: 0, host: '127.0.0.1' })
    browser = await launch(profile, log, { product, firefoxPrefs, workerConsole })
  } catch (err) {
    await site?.close()
    await rm(profile, { recursive: true, force: true })
    throw err
  }

  let closing = null

  async function newPage () {
    const page = await browser.newPage()
    await setViewport(page, { width: 1000, height: 760 })
    page.on('console', (msg) => log(`[page ${msg.type()}] ${msg.text()}`))
    page.on('pageerror', (err) => log(`[page error] ${err.message}`))
    page.on('requestfailed', (req) => log(`[page] request failed ${req.method()} ${req.url()}: ${req.failure()?.errorText}`))
    page.on('response', (res) => {
      if (res.status() >= 400) log(`[page] ${res.status()} ${res.request().method()} ${res.url()}`)
    })
    if (product === 'chrome') await followWorkerVersions(page, log)
    return page
  }

  async function closeBrowser () {
    // browser.close() can hang on a wedged browser: kill it after 10 s.
    const killer = setTimeout(() => browser.process()?.kill('SIGKILL'), 10000)
    await browser.close().catch(() => browser.process()?.kill('SIGKILL'))
    clearTimeout(killer)
  }

  async function closeAll () {
    await closeBrowser()
    await site.close()
    await rm(profile, { recursive: true, force: true }).catch(() => {})
  }

  return {
    site,
    get browser () { return browser },
    logs,
    log,
    newPage,
    /** Stops every service worker, as the browser does to idle ones; the next fetch starts it again. */
    async stopWorkers (page) {
      const cdp = await page.createCDPSession()
      await cdp.send('ServiceWorker.enable')
      await cdp.send('ServiceWorker.stopAllWorkers')
      await cdp.detach()
      log('[test] stopped all service workers')
    },
    /** kill: SIGKILL the browser (a crash) instead of closing it. */
    async restartBrowser ({ kill = false } = {}) {
      await quit({ kill })
      await relaunch()
    },
    quit,
    relaunch,
    /** Idempotent: the test's finally and its abort signal may both call it. */
    close: () => {
      closing ??= closeAll()
      return closing
    }
  }

  /**
   * Ends the browser, as a person closing it (or, with kill, a crash); the
   * site and the profile stay for relaunch(). Meanwhile this browser's
   * server is offline.
   */
  async function quit ({ kill = false } = {}) {
    if (kill) {
      const child = browser.process()
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await gone
      browser.disconnect().catch(() => {})
      log('[test] browser killed')
    } else {
      await closeBrowser()
      log('[test] browser closed')
    }
  }

  /** Starts the browser again on the same profile and the same origin. */
  async function relaunch () {
    log('[test] starting the browser again on the same profile')
    browser = await launch(profile, log, { product, firefoxPrefs, workerConsole })
  }
}

/**
 * page.setViewport, in Firefox ESR 140 too: over WebDriver BiDi puppeteer
 * sends a screen orientation override beside every viewport, a command that
 * Firefox does not know, and fails. The viewport's own command, sent with
 * it, still applies: that one failure passes once the page is as wide as
 * asked.
 */
export async function setViewport (page, viewport) {
  try {
    await page.setViewport(viewport)
  } catch (err) {
    if (!err.message.includes('unknown command emulation.setScreenOrientationOverride')) throw err
    await page.waitForFunction((width) => window.innerWidth === width, { timeout: 10_000 }, viewport.width)
  }
}

/** Firefox ESR (Debian's firefox-esr), driven over WebDriver BiDi; FIREFOX_PATH overrides. */
export const FIREFOX = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr'

async function launch (profile, log, { product, firefoxPrefs, workerConsole }) {
  if (product === 'firefox') {
    // No CDP here: no service worker console and no resume workaround (Firefox does not pause them).
    return puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      userDataDir: profile,
      extraPrefsFirefox: firefoxPrefs,
      protocolTimeout: 60000
    })
  }
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    protocolTimeout: 60000
  })
  browser.on('targetcreated', async (target) => {
    if (target.type() !== 'service_worker') return
    log(`[sw] started ${target.url()}`)
    if (!workerConsole) return
    try {
      const worker = await target.worker()
      worker?.on('console', (msg) => log(`[sw ${msg.type()}] ${msg.text()}`))
    } catch (err) {
      log(`[sw] cannot attach: ${err.message}`)
    }
  })
  browser.on('targetdestroyed', (target) => {
    if (target.type() === 'service_worker') log(`[sw] stopped ${target.url()}`)
  })
  // Only a worker DevTools stays attached to is paused when it starts again.
  if (workerConsole) resumeRestartedWorkers(browser, log)
  return browser
}

/**
 * Logs each service worker version's life as the browser sees it (running
 * status and install state), for failure reports: an update that never
 * activates shows here whether the old worker stopped, restarted or stayed.
 */
async function followWorkerVersions (page, log) {
  const seen = new Map()
  try {
    const cdp = await page.createCDPSession()
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
      for (const v of versions) {
        const line = `${v.runningStatus} ${v.status} controls ${v.controlledClients?.length ?? 0}`
        if (seen.get(v.versionId) === line) continue
        seen.set(v.versionId, line)
        log(`[sw version ${v.versionId}] ${line}`)
      }
    })
    await cdp.send('ServiceWorker.enable')
  } catch (err) {
    log(`[test] cannot follow service worker versions: ${err.message}`)
  }
}

/**
 * Puppeteer attaches to every new target paused until the debugger lets it
 * run, but it does not resume a service worker that the browser restarts
 * (after ServiceWorker.stopAllWorkers, or an idle stop): the worker, and every
 * fetch of the pages it controls, then hangs. Resume such workers as long as
 * the browser runs (runIfWaitingForDebugger is a no-op on a running worker).
 */
function resumeRestartedWorkers (browser, log) {
  let busy = false
  const tick = async () => {
    if (busy || !browser.connected) return
    busy = true
    try {
      const cdp = await browser.target().createCDPSession()
      try {
        const { targetInfos } = await cdp.send('Target.getTargets')
        for (const info of targetInfos.filter((t) => t.type === 'service_worker')) {
          const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: info.targetId, flatten: true })
          const session = cdp.connection().session(sessionId)
          await session?.send('Runtime.runIfWaitingForDebugger').catch(() => {})
          await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {})
        }
      } finally {
        await cdp.detach().catch(() => {})
      }
    } catch (err) {
      if (browser.connected) log(`[test] cannot resume service workers: ${err.message}`)
    } finally {
      busy = false
    }
  }
  const timer = setInterval(tick, 250)
  timer.unref()
  browser.once('disconnected', () => clearInterval(timer))
}

/**
 * What the page and its service worker say about the server, for failure reports.
 * Never throws and never takes more than a few seconds.
 */
export async function diagnose (page) {
  if (!page || page.isClosed()) return 'no page'
  const evaluate = page.evaluate(async () => {
    const status = document.querySelector('[data-testid=server-status]')
    const errors = [...document.querySelectorAll('.error:not([hidden])')].map((e) => e.textContent)
    const sw = navigator.serviceWorker
    const worker = await new Promise((resolve) => {
      if (!sw?.controller) return resolve('page is not controlled by a service worker')
      const timer = setTimeout(() => resolve('worker did not answer the status request within 2 s'), 2000)
      sw.addEventListener('message', (event) => {
        clearTimeout(timer)
        resolve(event.data)
      }, { once: true })
      sw.controller.postMessage({ type: 'hearth:status' })
    })
    return {
      url: location.href,
      statusPhase: status?.dataset.phase,
      statusText: status?.textContent,
      visibleErrors: errors,
      worker
    }
  })
  const timeout = new Promise((resolve) => setTimeout(() => resolve('page did not answer within 5 s'), 5000))
  try {
    return JSON.stringify(await Promise.race([evaluate, timeout]), null, 2)
  } catch (err) {
    return `cannot inspect the page: ${err.message}`
  }
}

/**
 * A site directory serving `dist` as it is but with its own config.json (e.g.
 * this run's relay), so the real dist/config.json stays untouched. Remove it
 * with rm(dir, {recursive: true}) when done.
 */
export async function siteWithConfig (config, dist = DIST) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-site-'))
  for (const name of await readdir(dist)) {
    if (name !== 'config.json') await symlink(join(dist, name), join(dir, name))
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  return dir
}
