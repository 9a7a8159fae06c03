/**
 * The built-in client in Firefox ESR (puppeteer over WebDriver BiDi): first
 * visit (the service worker takes the page without a reload), sign up, create
 * a room, send (pending, then sent), reload keeps it, Markdown and a
 * reaction, a backup Firefox downloads from the worker's stream, phone width.
 *
 * Skipped, saying so, when Firefox ESR is not installed (.ci/run installs it).
 * Run `npm run build` first; then `npm run test:browser`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readBackup } from '../js/backup/index.js'
import { nodeScrypt } from '../js/backup/node-scrypt.js'
import { createStorage, restoreSnapshot } from '../js/storage/index.js'
import { rows } from '../js/storage/testkit.js'
import { openBrowser, setViewport, ARTIFACTS, FIREFOX } from './browser.js'
import { steps } from './steps.js'
import { openSite, register, createRoom, send, waitForMessages, backToList, messageAction, waitForMessage, downloadedBackup, exportBackup, STEP_TIMEOUT } from './ui.js'

test('the client in Firefox ESR: sign up, room, messages, reload, phone width', {
  timeout: 180000,
  skip: existsSync(FIREFOX) ? false : `Firefox ESR is not installed at ${FIREFOX} (apt-get install firefox-esr, or set FIREFOX_PATH)`
}, async (t) => {
  const downloads = await mkdtemp(join(tmpdir(), 'hearth-e2e-firefox-'))
  t.after(() => rm(downloads, { recursive: true, force: true }))
  // Downloads go to that directory without asking (Firefox's download manager, not puppeteer).
  const env = await openBrowser({
    name: 'firefox',
    product: 'firefox',
    firefoxPrefs: { 'browser.download.folderList': 2, 'browser.download.dir': downloads, 'browser.download.useDownloadDir': true, 'browser.download.always_ask_before_handling_new_types': false }
  })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  const shot = (file) => page.screenshot({ path: join(ARTIFACTS, file) })
  try {
    page = await env.newPage()
    await run('first visit: the server starts in the service worker', async () => {
      await openSite(page, env.site.url)
      assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null))
    })
    await run('sign up, create a room, send two messages', async () => {
      await register(page, 'Fox', 'firefox password')
      await createRoom(page, { name: 'Den', topic: 'in Firefox' })
      await send(page, 'hello from Firefox')
      await send(page, 'second ✓')
      await waitForMessages(page, ['hello from Firefox', 'second ✓'])
      await shot('firefox-1-room.png')
    })
    await run('reload: still logged in, messages still there', async () => {
      await page.reload({ waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
      await waitForMessages(page, ['hello from Firefox', 'second ✓'])
    })
    await run('Markdown renders; a reaction from the message\'s actions', async () => {
      await send(page, 'some **bold** news')
      await waitForMessage(page, 'some bold news', (li) => li.querySelector('strong')?.textContent === 'bold')
      await messageAction(page, 'some bold news', 'message-react')
      await messageAction(page, 'some bold news', 'reaction-choice', '🎉')
      await waitForMessage(page, 'some bold news', (li) => li.querySelector('[data-testid=reaction][data-key="🎉"][aria-pressed=true]'))
      await shot('firefox-2-rich.png')
    })
    await run('a reply in a thread; the root counts it', async () => {
      await messageAction(page, 'some bold news', 'message-thread')
      await page.waitForSelector('[data-testid=thread]:not([hidden])')
      await page.type('[data-testid=thread-input]', 'more in the thread')
      await page.keyboard.press('Enter')
      await waitForMessage(page, 'some bold news', (li) => li.querySelector('[data-testid=thread-summary][data-count="1"]'))
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=thread-timeline] [data-testid=message-body]')].some((e) => e.textContent === 'more in the thread'), { timeout: STEP_TIMEOUT })
      await shot('firefox-3-thread.png')
      await page.click('[data-testid=thread-close]')
    })
    await run('back up: Firefox downloads the worker\'s stream, and the file holds the server with its messages', async () => {
      await exportBackup(page, 'a fox moves house')
      const file = await downloadedBackup(downloads)
      const backup = await readBackup({ passphrase: 'a fox moves house', source: createReadStream(file), scrypt: nodeScrypt })
      const userId = await page.evaluate(() => JSON.parse(localStorage.getItem('hearth.session')).userId)
      assert.equal(backup.manifest.serverName, userId.split(':')[1])
      const dir = join(downloads, 'restored')
      await restoreSnapshot({ persistence: 'file', dir }, backup.database, backup.journal)
      const restored = await createStorage({ persistence: 'file', dir })
      try {
        const bodies = rows(restored.storage, "SELECT json_extract(json, '$.content.body') FROM events WHERE type = 'm.room.message'").map(r => r[0])
        assert.ok(['hello from Firefox', 'second ✓'].every(b => bodies.includes(b)), `messages in the backup: ${bodies}`)
      } finally {
        await restored.close()
      }
      await page.click('[data-testid=backup-export-close]')
    })
    await run('phone width', async () => {
      await setViewport(page, { width: 390, height: 800 })
      await shot('firefox-4-phone.png')
      await backToList(page)
      assert.equal(await page.$eval('[data-testid=room]', (e) => getComputedStyle(e).display), 'none')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'firefox', env, page, screenshot: 'firefox-failure.png' }])
  } finally {
    await env.close()
  }
})
