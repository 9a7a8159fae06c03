/**
 * The built-in client talks to its server over the worker's client port
 * (sw/protocol.js, js/page/port-fetch.js), not fetch: the page's own network
 * requests (what Chromium reports for it) show no client API request once the
 * worker said hello, while its messages go out and arrive.
 *
 * It starts on an "older build" whose worker does not speak the port (dist's
 * sw.js behind a wrapper that drops the port's messages): the client works
 * over fetch. Then the real build takes over without a reload (the controller
 * changes under the page) and the client moves to the new worker's port; then
 * the browser stops that worker and the client moves to its next life's port.
 * A second tab sends messages by fetch, so the first one's /sync long-poll
 * must bring them. In Firefox ESR (no request events to count), the page's
 * resource timing entries show the same: none for the client API.
 *
 * Run `npm run build` first; then `node --test --test-concurrency=1 e2e/client-port.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rename, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import { openBrowser, FIREFOX } from './browser.js'
import { siteCopy, workerStatus, waitForStatus, TAKEOVER_TIMEOUT } from './deploy.js'
import { steps } from './steps.js'
import { openSite, register, createRoom, send, sendRaw, waitForMessages, savedToken, BOOT_TIMEOUT } from './ui.js'

/** An older build's worker: the same server, but it does not say hello on the client port, as builds before it did not. */
const WITHOUT_PORT = `self.addEventListener('message', (event) => {
  if (event.data?.type === 'hearth:client-hello') event.stopImmediatePropagation()
})
importScripts('sw-with-port.js')
`

/** Client API requests the page itself sent over the network stack (fetch), by method and path. */
function recordClientRequests (page) {
  const seen = []
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.pathname.startsWith('/_matrix/client/')) seen.push(`${request.method()} ${url.pathname}`)
  })
  return {
    since: (mark) => seen.slice(mark),
    mark: () => seen.length
  }
}

test('chrome: the client sends its requests over the worker\'s port, falls back to fetch for a worker without it, and moves to each new worker', { timeout: 420000 }, async (t) => {
  const dir = await siteCopy('client-port')
  await rename(join(dir, 'sw.js'), join(dir, 'sw-with-port.js'))
  await writeFile(join(dir, 'sw.js'), WITHOUT_PORT)
  const env = await openBrowser({ name: 'client-port', dir, workerConsole: false })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  const { run, explain } = steps(t, [env])
  let page, other
  const texts = []
  try {
    page = await env.newPage()
    const requests = recordClientRequests(page)
    let roomId, original
    await run('a worker without the port: sign up, a room, a message, all by fetch', async () => {
      await openSite(page, env.site.url)
      await register(page, 'Porter', 'port password')
      roomId = await createRoom(page, { name: 'Ports' })
      const mark = requests.mark()
      texts.push('over fetch')
      await send(page, texts.at(-1))
      await waitForMessages(page, texts)
      assert.ok(requests.since(mark).some((r) => r.startsWith('PUT /_matrix/client/v3/rooms/')), `no send by fetch: ${requests.since(mark)}`)
      original = await workerStatus(page)
    })

    other = await env.newPage()
    const fromOtherTab = async (text) => {
      await sendRaw(other, roomId, { msgtype: 'm.text', body: text }, { token: await savedToken(page) })
      texts.push(text)
      await waitForMessages(page, texts)
    }
    await other.goto(`${env.site.url}config.json`) // same origin, same worker, no client of its own
    await page.bringToFront() // a background tab gets no animation frames: no render, no waitForFunction polls

    /** Sends from the page and receives from the other tab; asserts none of the page's client API requests went by fetch. */
    const overThePort = async (label) => {
      const mark = requests.mark()
      texts.push(`${label}: sent`)
      await send(page, texts.at(-1))
      await waitForMessages(page, texts)
      await fromOtherTab(`${label}: received`)
      assert.deepEqual(requests.since(mark), [], 'client API requests went by fetch')
    }

    await run('the build with the port takes over without a reload: the client moves to its port', async () => {
      // A later Last-Modified than the wrapper's, or the site answers the update check 304.
      await writeFile(join(dir, 'sw.js'), await readFile(join(dir, 'sw-with-port.js')))
      const later = new Date(Date.now() + 2000)
      await utimes(join(dir, 'sw.js'), later, later)
      await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r.update()))
      const next = await waitForStatus(page, (s) => s.life > original.life && s.phase === 'ready', TAKEOVER_TIMEOUT, 'the new worker did not take over')
      await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])')
      assert.ok(next.life > original.life)
      await overThePort('after the update')
    })

    await run('the browser stops the worker: what waited on it fails, and the client goes on over the next life\'s port', async () => {
      const before = await workerStatus(page)
      await env.stopWorkers(page)
      // The page's keep-alive would wake it within 10 s; a status request does so now.
      await waitForStatus(page, (s) => s.life > before.life && s.phase === 'ready', BOOT_TIMEOUT, 'the worker did not start again')
      // The /sync long-poll the stopped worker had taken failed at once and
      // was retried (one posted as it stopped woke the next life, which took
      // it): either way the next message shows well within the poll's 35 s.
      texts.push('after a restart: first received')
      await sendRaw(other, roomId, { msgtype: 'm.text', body: texts.at(-1) }, { token: await savedToken(page) })
      await waitForMessages(page, texts, { timeout: 15000 })
      await overThePort('after a restart')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'browser', env, page, screenshot: 'client-port-failure.png' }])
  } finally {
    await env.close()
    await rm(dir, { recursive: true, force: true })
  }
})

/** Client API paths in the page's resource timing entries since it last cleared them (every fetch makes one). */
function fetchedClientPaths (page) {
  return page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => new URL(e.name).pathname).filter((path) => path.startsWith('/_matrix/client/')))
}

test('firefox: the client sends its requests over the worker\'s port', {
  timeout: 180000,
  skip: existsSync(FIREFOX) ? false : `Firefox ESR is not installed at ${FIREFOX}`
}, async (t) => {
  const env = await openBrowser({ name: 'client-port-firefox', product: 'firefox' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  const { run, explain } = steps(t, [env])
  let page
  try {
    await run('sign up and a room; then messages with no client API fetch', async () => {
      page = await env.newPage()
      await openSite(page, env.site.url)
      await register(page, 'Fox', 'fox port password')
      await createRoom(page, { name: 'Burrow' })
      await page.evaluate(() => performance.clearResourceTimings())
      await send(page, 'over the port')
      await waitForMessages(page, ['over the port'])
      assert.deepEqual(await fetchedClientPaths(page), [], 'client API requests went by fetch')
      // The check sees a fetch when there is one.
      await page.evaluate(() => fetch('/_matrix/client/versions').then((r) => r.text()))
      assert.deepEqual(await fetchedClientPaths(page), ['/_matrix/client/versions'])
    })
  } catch (err) {
    throw await explain(err, [{ label: 'firefox', env, page, screenshot: 'client-port-firefox-failure.png' }])
  } finally {
    await env.close()
  }
})
