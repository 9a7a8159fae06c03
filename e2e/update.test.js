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
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { openBrowser, FIREFOX } from './browser.js'
import { siteCopy, deployNewBuild, workerStatus, waitForStatus, TAKEOVER_TIMEOUT } from './deploy.js'
import { steps } from './steps.js'
import { openSite, register, createRoom, openRoom, send, waitForMessages, STEP_TIMEOUT, BOOT_TIMEOUT } from './ui.js'

for (const product of ['chrome', 'firefox']) {
  const skip = product === 'firefox' && !existsSync(FIREFOX) && `Firefox ESR is not installed at ${FIREFOX}`
  test(`${product}: two tabs share a server, a stopped worker restarts, a new build takes over on reload and keeps the data`, { timeout: 420000, skip }, async (t) => {
    const dir = await siteCopy()
    const env = await openBrowser({ name: `update-${product}`, dir, product, workerConsole: false })
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
