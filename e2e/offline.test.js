/**
 * People are rarely online at once. Two browsers (two homeservers) and a
 * relay with mailboxes: Bob closes his browser; Alice writes, sees her
 * message wait in Bob's mailbox, and closes hers; Bob opens his browser and
 * the message is there; Alice comes back and sees it delivered. All through
 * the built-in client's controls.
 *
 * Run `npm run build` first; then `npm run test:browser`.
 */
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBrowser, siteWithConfig, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { createRelay } from '../js/relay/index.js'
import { BOOT_TIMEOUT, STEP_TIMEOUT, openRoom, openSite, register, createRoom, send, waitForMessages, waitOnline } from './ui.js'

const DISCOVERY_TIMEOUT = 15000
const FEDERATION_TIMEOUT = 45000
const quiet = { log () {}, info () {}, warn () {}, debug () {} }

/** The delivery state the client shows under the newest own message with this text. */
function deliveryOf (page, text) {
  return page.evaluate((want) => {
    const mine = [...document.querySelectorAll('[data-testid=message][data-own=true]')]
      .filter((e) => e.querySelector('[data-testid=message-body]').textContent === want)
    const last = mine.at(-1)
    return last ? { state: last.dataset.delivery ?? null, text: last.querySelector('[data-testid=message-delivery]')?.textContent ?? '' } : null
  }, text)
}

async function waitForDelivery (page, text, state, timeout = FEDERATION_TIMEOUT) {
  await page.waitForFunction((want, s) => {
    const mine = [...document.querySelectorAll('[data-testid=message][data-own=true]')]
      .filter((e) => e.querySelector('[data-testid=message-body]').textContent === want)
    return mine.at(-1)?.dataset.delivery === s
  }, { timeout }, text, state)
}

/** After a browser start: the client is there (the session was kept) and shows the room. */
async function reopen (env, name) {
  const page = await env.newPage()
  await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
  await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
  await openRoom(page, name)
  return page
}

test('a message waits in the mailbox of a browser that is closed, and reaches it after its sender closed hers', {
  timeout: 300000
}, async (t) => {
  const mailDir = await mkdtemp(join(tmpdir(), 'hearth-mailbox-'))
  const relay = createRelay({ port: 0, logger: quiet, mailbox: { dir: mailDir } })
  await relay.start()
  const siteDir = await siteWithConfig({ relay: relay.multiaddrs()[0], debug: null })
  const a = await openBrowser({ name: 'offline-a', dir: siteDir })
  const b = await openBrowser({ name: 'offline-b', dir: siteDir })
  t.signal.addEventListener('abort', () => { a.close(); b.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [a, b])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'rarely online at once'

  try {
    pageA = await a.newPage()
    pageB = await b.newPage()
    let bob
    await run('both sign up; Alice invites Bob to a room and he joins', async () => {
      await Promise.all([openSite(pageA, a.site.url), openSite(pageB, b.site.url)])
      ;[, bob] = await Promise.all([register(pageA, 'Alice', password), register(pageB, 'Bob', password)])
      await Promise.all([waitOnline(pageA, { timeout: DISCOVERY_TIMEOUT }), waitOnline(pageB, { timeout: DISCOVERY_TIMEOUT })])
      await createRoom(pageA, { name: 'Later' })
      await send(pageA, 'hello Bob')
      await pageA.click('[data-testid=invite-open]')
      await pageA.type('[data-testid=invite-user]', bob)
      await pageA.click('[data-testid=invite-send]')
      await pageA.waitForSelector('[data-testid=invite-form]', { hidden: true, timeout: FEDERATION_TIMEOUT })
      await pageB.waitForSelector('[data-testid=invite] [data-testid=invite-accept]', { timeout: FEDERATION_TIMEOUT })
      await pageB.click('[data-testid=invite-accept]')
      await waitForMessages(pageB, ['hello Bob'], { timeout: FEDERATION_TIMEOUT })
      await waitForDelivery(pageA, 'hello Bob', 'delivered')
    })

    await run('Bob closes his browser; Alice writes: her message waits in his mailbox', async () => {
      await b.quit()
      await send(pageA, 'are you there?')
      await waitForDelivery(pageA, 'are you there?', 'mailbox')
      await shot(pageA, 'offline-1-alice-mailbox.png')
      t.diagnostic(`Alice's client says: ${JSON.stringify(await deliveryOf(pageA, 'are you there?'))}`)
    })

    await run('Alice closes hers too; Bob opens his browser: the message is there', async () => {
      await a.quit()
      await b.relaunch()
      pageB = await reopen(b, 'Later')
      await waitForMessages(pageB, ['hello Bob', 'are you there?'], { timeout: FEDERATION_TIMEOUT })
      await shot(pageB, 'offline-2-bob-got-it.png')
    })

    await run('Alice comes back: her message shows as delivered', async () => {
      await a.relaunch()
      pageA = await reopen(a, 'Later')
      await waitForDelivery(pageA, 'are you there?', 'delivered')
      await shot(pageA, 'offline-3-alice-delivered.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'A (Alice)', env: a, page: pageA, screenshot: 'offline-failure-a.png' },
      { label: 'B (Bob)', env: b, page: pageB, screenshot: 'offline-failure-b.png' }
    ])
  } finally {
    await Promise.all([a.close(), b.close()])
    await relay.stop()
    await rm(siteDir, { recursive: true, force: true })
    await rm(mailDir, { recursive: true, force: true })
  }
})
