/**
 * Pictures and files in the built-in client: a picture attached with the
 * attach button (through the browser's file chooser) shows its upload, then
 * appears inline as a thumbnail the server scaled, and opens full size; a
 * file shows its name and size and downloads; a picture dropped on the room
 * is sent too.
 *
 * Run `npm run build` first; then `node --test e2e/media.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { STEP_TIMEOUT, openSite, register, createRoom, clickRedrawn } from './ui.js'
import { png } from './images.js'

test('pictures and files: attach, upload progress, inline thumbnail, full picture, download, drop', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'media' })
  const dir = await mkdtemp(join(tmpdir(), 'hearth-media-'))
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  const shot = (file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const picture = join(dir, 'sunset.png')
  const notes = join(dir, 'notes.txt')
  await writeFile(picture, png(1600, 1000))
  await writeFile(notes, 'shopping: milk, eggs\n'.repeat(100))

  const attach = async (path) => {
    const [chooser] = await Promise.all([page.waitForFileChooser({ timeout: STEP_TIMEOUT }), page.click('[data-testid=attach]')])
    await chooser.accept([path])
  }

  try {
    page = await env.newPage()
    await openSite(page, env.site.url)
    await run('sign up and create a room', async () => {
      await register(page, 'Shutter', 'pictures please')
      await createRoom(page, { name: 'Album' })
      // Records whether an upload progress bar was ever shown.
      await page.evaluate(() => {
        window.sawProgress = false
        new MutationObserver(() => { if (document.querySelector('[data-testid=upload-progress]')) window.sawProgress = true })
          .observe(document.getElementById('timeline'), { subtree: true, childList: true })
      })
    })

    await run('attach a picture: upload progress, then its thumbnail inline', async () => {
      await attach(picture)
      await page.waitForSelector('[data-testid=message][data-pending=false] img[data-testid=message-image]', { timeout: STEP_TIMEOUT })
      await page.waitForFunction(() => document.querySelector('[data-testid=message-image]').complete &&
        document.querySelector('[data-testid=message-image]').naturalWidth > 0, { timeout: STEP_TIMEOUT })
      const img = await page.$eval('[data-testid=message-image]', (e) => ({ src: e.getAttribute('src'), alt: e.alt, width: e.width, height: e.height, naturalWidth: e.naturalWidth }))
      assert.match(img.src, /^\/_matrix\/media\/v3\/thumbnail\/[^/]+\/[\w-]+\?width=640&height=400&method=scale$/)
      // The server scaled it (go/media): 640 pixels wide, shown at 320 CSS px.
      assert.deepEqual([img.alt, img.width, img.height, img.naturalWidth], ['sunset.png', 320, 200, 640])
      assert.ok(await page.evaluate(() => window.sawProgress), 'no upload progress was shown')
      await shot('media-1-picture.png')
    })

    await run('click the picture: it opens full size', async () => {
      await clickRedrawn(page, '[data-testid=message-image]')
      await page.waitForSelector('[data-testid=image-viewer][open]', { timeout: STEP_TIMEOUT })
      await page.waitForFunction(() => document.querySelector('[data-testid=image-full]').naturalWidth === 1600, { timeout: STEP_TIMEOUT })
      assert.match(await page.$eval('[data-testid=image-full]', (e) => e.getAttribute('src')), /^\/_matrix\/media\/v3\/download\//)
      await shot('media-2-full.png')
      await page.keyboard.press('Escape')
      await page.waitForSelector('[data-testid=image-viewer]:not([open])', { timeout: STEP_TIMEOUT })
    })

    await run('attach a file: its name and size, and it downloads', async () => {
      await attach(notes)
      await page.waitForSelector('[data-testid=message][data-pending=false] a[data-testid=message-file]', { timeout: STEP_TIMEOUT })
      const file = await page.$eval('a[data-testid=message-file]', (a) => ({ text: a.textContent, download: a.getAttribute('download'), href: a.getAttribute('href') }))
      assert.equal(file.text, '📎 notes.txt (2.1 KB)')
      assert.equal(file.download, 'notes.txt')
      const fetched = await page.evaluate(async (href) => {
        const res = await fetch(href)
        return { status: res.status, length: (await res.text()).length }
      }, file.href)
      assert.deepEqual(fetched, { status: 200, length: 2100 })
      await shot('media-3-file.png')
    })

    await run('drop a picture on the room: it is sent too', async () => {
      // A drop as the browser delivers it (puppeteer cannot drag from the desktop).
      await page.evaluate(async () => {
        const canvas = Object.assign(document.createElement('canvas'), { width: 40, height: 30 })
        canvas.getContext('2d').fillRect(0, 0, 40, 30)
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'))
        const data = new DataTransfer()
        data.items.add(new File([blob], 'dropped.png', { type: 'image/png' }))
        const room = document.getElementById('room')
        room.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }))
        room.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
      })
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=message][data-pending=false] [data-testid=message-image]')]
        .some((img) => img.alt === 'dropped.png'), { timeout: STEP_TIMEOUT })
    })
  } catch (err) {
    throw await explain(err, [{ label: 'media', env, page, screenshot: 'media-failure.png' }])
  } finally {
    await env.close()
    await rm(dir, { recursive: true, force: true })
  }
})
