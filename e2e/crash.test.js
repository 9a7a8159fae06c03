/**
 * Durability seen from the browser: messages the server acknowledged survive
 * the browser being killed (SIGKILL) the moment the acknowledgement arrives.
 * The page's own login may not survive (localStorage is flushed lazily), so
 * the test logs in again if it has to; the server's data must all be there.
 */
import { test } from 'node:test'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { register, createRoom, logIn, openRoom, waitForMessages, STEP_TIMEOUT, BOOT_TIMEOUT } from './ui.js'

test('acknowledged messages survive a browser crash', { timeout: 240000 }, async (t) => {
  const env = await openBrowser({ name: 'crash' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  const user = `carol${Date.now().toString(36)}`
  const password = 'pass-word-123'
  const messages = ['one', 'two', 'three']
  try {
    await run('register, create a room', async () => {
      page = await env.newPage()
      await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=auth]:not([hidden])', { timeout: BOOT_TIMEOUT })
      await register(page, user, password)
      await createRoom(page, { name: 'Cellar' })
    })

    await run('send three messages; kill the browser as the last is acknowledged', async () => {
      for (const [i, text] of messages.entries()) {
        await page.type('[data-testid=composer-input]', text)
        await page.click('[data-testid=composer-send]')
        // Acknowledged: the client got the send's 200 (over the client port,
        // which the browser's network events do not show) and stopped
        // showing the message as pending.
        await waitForMessages(page, messages.slice(0, i + 1))
      }
      await env.restartBrowser({ kill: true })
    })

    await run('after the crash: log in if needed, all three messages are there', async () => {
      page = await env.newPage()
      await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await page.waitForSelector('[data-testid=app]:not([hidden]), [data-testid=auth]:not([hidden])', { timeout: STEP_TIMEOUT })
      if (await page.$eval('[data-testid=app]', (e) => e.hidden)) {
        env.log('[test] the session did not survive the crash: logging in again')
        await logIn(page, user, password)
      }
      await page.waitForSelector('[data-testid=room-item]', { timeout: STEP_TIMEOUT })
      const title = await page.$eval('[data-testid=room-title]', (e) => e.textContent)
      if (title !== 'Cellar') await openRoom(page, 'Cellar')
      await waitForMessages(page, messages)
      await page.screenshot({ path: join(ARTIFACTS, 'crash-after-restart.png') })
    })
  } catch (err) {
    throw await explain(err, [{ label: 'browser', env, page, screenshot: 'crash-failure.png' }])
  } finally {
    await env.close()
  }
})
