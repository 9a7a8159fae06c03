/**
 * Firefox stops a service worker that has been idle (~30 s by default); the
 * next request must start it again, with the data. A test cannot stop a
 * worker in Firefox from outside (Chromium's test does it over CDP), so this
 * profile's idle timeout is lowered to a second: the page is closed, the
 * worker stops on its own, and the next visit starts a new worker life.
 *
 * Skipped, saying so, when Firefox ESR is not installed (.ci/run installs it).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { openBrowser, FIREFOX } from './browser.js'
import { steps } from './steps.js'
import { openSite, register, createRoom, send, waitForMessages, openRoom, STEP_TIMEOUT } from './ui.js'

/** The worker's life (its start time) as the page's status request reports it. */
function workerLife (page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const sw = navigator.serviceWorker
    if (!sw.controller) return reject(new Error('the page has no service worker'))
    const timer = setTimeout(() => reject(new Error('no status from the worker within 5 s')), 5000)
    sw.addEventListener('message', function onMessage (event) {
      if (event.data?.type !== 'hearth:status') return
      sw.removeEventListener('message', onMessage)
      clearTimeout(timer)
      resolve(event.data.status.life)
    })
    sw.controller.postMessage({ type: 'hearth:status' })
  }))
}

test('Firefox: a worker stopped for being idle starts again on the next request, with its data', {
  timeout: 180000,
  skip: existsSync(FIREFOX) ? false : `Firefox ESR is not installed at ${FIREFOX} (apt-get install firefox-esr, or set FIREFOX_PATH)`
}, async (t) => {
  const env = await openBrowser({
    name: 'firefox-idle',
    product: 'firefox',
    firefoxPrefs: { 'dom.serviceWorkers.idle_timeout': 1000, 'dom.serviceWorkers.idle_extended_timeout': 1000 }
  })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  try {
    let firstLife
    await run('sign up, a room, a message', async () => {
      page = await env.newPage()
      await openSite(page, env.site.url)
      await register(page, 'Idle', 'idle firefox password')
      await createRoom(page, { name: 'Quiet' })
      await send(page, 'before the worker slept')
      await waitForMessages(page, ['before the worker slept'])
      firstLife = await workerLife(page)
    })
    await run('the page closes; the idle worker is stopped by Firefox', async () => {
      await page.close()
      await new Promise((resolve) => setTimeout(resolve, 4000))
    })
    await run('the next visit starts a new worker life, and the message is there', async () => {
      page = await env.newPage()
      await openSite(page, env.site.url)
      await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
      await openRoom(page, 'Quiet')
      await waitForMessages(page, ['before the worker slept'])
      const life = await workerLife(page)
      assert.notEqual(life, firstLife, 'the same worker life: Firefox did not stop the idle worker')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'firefox', env, page, screenshot: 'firefox-idle-failure.png' }])
  } finally {
    await env.close()
  }
})
