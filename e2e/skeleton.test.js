/**
 * The walking skeleton in a real browser: first visit, the server starts in the
 * service worker, register through the UI, create a room, send three messages;
 * then reload, hard reload, stop the worker (it boots again from IndexedDB) and
 * restart the browser, and everything is still there.
 *
 * Run `npm run build` first; then `npm run test:browser`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { register, createRoom, openRoom, waitForMessages, STEP_TIMEOUT, BOOT_TIMEOUT } from './ui.js'
import { waitForStatus } from './deploy.js'

/**
 * The static route each response of the page took, by path (Chromium's
 * serviceWorkerRouterInfo.matchedSourceType; 'none' when no route matched).
 */
async function watchRoutes (page) {
  const cdp = await page.createCDPSession()
  await cdp.send('Network.enable')
  const taken = new Map()
  cdp.on('Network.responseReceived', ({ response }) => {
    taken.set(new URL(response.url).pathname, response.serviceWorkerRouterInfo?.matchedSourceType ?? 'none')
  })
  return { taken, stop: () => cdp.detach().catch(() => {}) }
}

test('first visit, register, create a room, message; reloads, worker restarts and browser restarts keep it all', { timeout: 300000 }, async (t) => {
  const env = await openBrowser({ name: 'skeleton' })
  // If the test runner gives up (timeout), the browser must not outlive it.
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  const shot = (file) => page.screenshot({ path: join(ARTIFACTS, file), fullPage: true })

  try {
    page = await env.newPage()
    const user = `alice${Date.now().toString(36)}`
    const password = 'correct horse battery staple'
    const messages = ['hello, hearth', 'second message ✓', 'third: <b>not bold</b> & done']

    await run('first visit shows start-up, then ready', async () => {
      await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      const controlled = await page.evaluate(() => navigator.serviceWorker.controller !== null)
      assert.ok(controlled, 'the page is controlled by the service worker without a reload')
      await page.waitForSelector('[data-testid=auth]:not([hidden])', { timeout: STEP_TIMEOUT })
      await shot('skeleton-1-ready.png')
    })

    await run('register through the form', async () => {
      const userId = await register(page, user, password)
      assert.match(userId, new RegExp(`^@${user}:`))
    })

    await run('create a room', async () => {
      await createRoom(page, { name: 'Kitchen' })
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=room-item-name]')]
        .some((b) => b.textContent === 'Kitchen'), { timeout: STEP_TIMEOUT })
      await page.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Kitchen',
        { timeout: STEP_TIMEOUT })
    })

    await run('send three messages', async () => {
      for (const text of messages) {
        await page.type('[data-testid=composer-input]', text)
        await page.click('[data-testid=composer-send]')
      }
      await waitForMessages(page, messages)
      await shot('skeleton-2-messages.png')
    })

    await run('the page shows how much browser storage the homeserver uses', async () => {
      await page.waitForFunction(() => Number(document.querySelector('[data-testid=storage-status]').dataset.usage) > 0,
        { timeout: STEP_TIMEOUT })
    })

    await run('reload: still logged in, messages still there', async () => {
      await page.reload({ waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await page.waitForSelector('[data-testid=app]:not([hidden])', { timeout: STEP_TIMEOUT })
      const who = await page.$eval('[data-testid=whoami]', (e) => e.textContent)
      assert.match(who, new RegExp(`@${user}:`))
      // The page remembers the open room; open it if it did not.
      const title = await page.$eval('[data-testid=room-title]', (e) => e.textContent)
      if (title !== 'Kitchen') await openRoom(page, 'Kitchen')
      await waitForMessages(page, messages)
      await shot('skeleton-3-after-reload.png')
      await page.setViewport({ width: 390, height: 800 })
      await shot('skeleton-4-phone.png')
    })

    await run('hard reload: the worker takes the uncontrolled page back', async () => {
      // Like Shift+Reload: the page loads without its service worker, which
      // then has to claim it (no controllerchange comes by itself).
      await page.reload({ waitUntil: 'domcontentloaded', ignoreCache: true })
      await page.waitForSelector('[data-testid=app]:not([hidden])', { timeout: STEP_TIMEOUT })
      assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null))
      await waitForMessages(page, messages)
    })

    await run('the worker is stopped, as when idle: it boots again from storage', async () => {
      const routes = await watchRoutes(page)
      await env.stopWorkers(page)
      await page.reload({ waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await page.waitForSelector('[data-testid=app]:not([hidden])', { timeout: STEP_TIMEOUT })
      await waitForMessages(page, messages)
      // The worker's static routes (sw/static-routes.js): the page's own
      // files did not wait for the starting worker; what it answers, and the
      // navigation that starts it, went to it.
      await page.evaluate(() => Promise.all(['/_matrix/client/versions', '/_hearth/backup/download/no-such-ticket']
        .map((path) => fetch(path).then((r) => r.arrayBuffer()))))
      await routes.stop()
      for (const path of ['/page.js', '/style.css']) assert.equal(routes.taken.get(path), 'network', `${path}'s route`)
      for (const path of ['/', '/_matrix/client/versions', '/_hearth/backup/download/no-such-ticket']) {
        assert.equal(routes.taken.get(path), 'fetch-event', `${path}'s route`)
      }
    })

    await run('a stopped worker boots when the browser starts it, before any page asks', async () => {
      await env.stopWorkers(page)
      // config.json runs none of Hearth's scripts: only its navigation starts
      // the worker, and status questions do not boot it.
      await page.goto(new URL('config.json', env.site.url).href, { waitUntil: 'domcontentloaded' })
      await waitForStatus(page, (s) => s.phase === 'ready', BOOT_TIMEOUT, 'the worker did not boot with no page asking it to')
    })

    await run('the browser restarts: same account, same messages', async () => {
      await env.restartBrowser()
      page = await env.newPage()
      await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await page.waitForSelector('[data-testid=app]:not([hidden])', { timeout: STEP_TIMEOUT })
      await waitForMessages(page, messages)
      await shot('skeleton-5-after-browser-restart.png')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'browser', env, page, screenshot: 'skeleton-failure.png' }])
  } finally {
    await env.close()
  }
})

