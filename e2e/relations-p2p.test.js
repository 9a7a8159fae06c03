/**
 * Replies, reactions, edits, deletion and a thread between two people on two
 * peers: two browsers (separate Chromium profiles, so two homeservers)
 * federating through a relay, every step through the client's controls.
 *
 * Run `npm run build` first; then `node --test e2e/relations-p2p.test.js`.
 */
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { openBrowser, siteWithConfig, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { createRelay } from '../js/relay/index.js'
import { STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, waitForMessage, messageAction, reactTo, deleteMessage, waitOnline, clickRedrawn } from './ui.js'

const DISCOVERY_TIMEOUT = 15000
/** Federation of an event between two browsers may take a few round trips. */
const FEDERATION_TIMEOUT = 45000
const quiet = { log () {}, info () {}, warn () {} }

test('two peers: reply, react, edit, delete and a thread between two browsers', { timeout: 300000 }, async (t) => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const siteDir = await siteWithConfig({ relay: relay.multiaddrs()[0], debug: null })
  const a = await openBrowser({ name: 'relations-p2p-a', dir: siteDir })
  const b = await openBrowser({ name: 'relations-p2p-b', dir: siteDir })
  t.signal.addEventListener('abort', () => { a.close(); b.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [a, b])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'relations across peers'
  const federated = { timeout: FEDERATION_TIMEOUT }

  try {
    pageA = await a.newPage()
    pageB = await b.newPage()
    let bob
    await run('Alice and Bob sign up on their own servers; Alice invites Bob, he joins, she writes', async () => {
      await Promise.all([openSite(pageA, a.site.url), openSite(pageB, b.site.url)])
      const [alice] = await Promise.all([register(pageA, 'Alice', password), register(pageB, 'Bob', password).then((id) => { bob = id })])
      assert.notEqual(alice.split(':')[1], bob.split(':')[1], 'two profiles are two servers')
      for (const page of [pageA, pageB]) await waitOnline(page, { timeout: DISCOVERY_TIMEOUT })
      await createRoom(pageA, { name: 'Far apart' })
      await pageA.click('[data-testid=invite-open]')
      await pageA.type('[data-testid=invite-user]', bob)
      await pageA.click('[data-testid=invite-send]')
      await pageA.waitForSelector('[data-testid=invite-form]', { hidden: true, ...federated })
      await pageB.waitForSelector('[data-testid=invite] [data-testid=invite-accept]', federated)
      await pageB.click('[data-testid=invite-accept]')
      await pageB.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Far apart', federated)
      await pageA.click('[data-testid=members-toggle]')
      await pageA.waitForSelector(`[data-testid=member][data-user-id="${bob}"][data-membership=join]`, federated)
      await send(pageA, 'helo from afar')
      await waitForMessages(pageB, ['helo from afar'], federated)
    })

    await run('Bob reacts 👍; Alice sees his reaction and adds hers', async () => {
      await reactTo(pageB, 'helo from afar', '👍')
      await waitForMessage(pageA, 'helo from afar', (li) => li.querySelector('[data-testid=reaction][data-key="👍"][data-count="1"]'), federated)
      assert.equal(await pageA.$eval('[data-testid=reaction]', (e) => e.title), 'Bob reacted with 👍')
      // One in-page click: the message is redrawn when its delivery state comes in, which can detach a node between puppeteer's steps.
      await pageA.$eval('[data-testid=reaction][data-key="👍"]', (e) => e.click())
      await waitForMessage(pageB, 'helo from afar', (li) => li.querySelector('[data-testid=reaction][data-count="2"][aria-pressed=true]'), federated)
      await shot(pageB, 'relations-p2p-1-reactions.png')
    })

    await run('Bob replies; Alice sees the quote of her message', async () => {
      await messageAction(pageB, 'helo from afar', 'message-reply')
      await send(pageB, 'hello back')
      await waitForMessages(pageA, ['helo from afar', 'hello back'], federated)
      assert.equal(await pageA.$eval('[data-testid=reply-quote]', (e) => e.textContent), 'Alice helo from afar')
    })

    await run('Alice edits her message: Bob sees the new text and "(edited)"', async () => {
      await messageAction(pageA, 'helo from afar', 'message-edit')
      await pageA.$eval('[data-testid=composer-input]', (e) => e.select())
      await send(pageA, 'hello from **afar**')
      await waitForMessage(pageB, 'hello from afar', (li) => li.dataset.edited === 'true' && li.querySelector('strong')?.textContent === 'afar', federated)
      await pageB.waitForFunction(() => document.querySelector('[data-testid=reply-quote]').textContent === 'Alice hello from **afar**', federated)
      await shot(pageB, 'relations-p2p-2-edited.png')
    })

    await run('Bob answers in a thread; Alice sees the count and the reply in the thread', async () => {
      await messageAction(pageB, 'hello back', 'message-thread')
      await pageB.type('[data-testid=thread-input]', 'a side note')
      await pageB.keyboard.press('Enter')
      await waitForMessage(pageA, 'hello back', (li) => li.querySelector('[data-testid=thread-summary][data-count="1"]'), federated)
      await clickRedrawn(pageA, '[data-testid=thread-summary]')
      await pageA.waitForFunction(() => [...document.querySelectorAll('[data-testid=thread-timeline] [data-testid=message-body]')].map((e) => e.textContent).join('|') === 'hello back|a side note', { timeout: STEP_TIMEOUT })
      await waitForMessages(pageA, ['hello from afar (edited)', 'hello back'])
      await shot(pageA, 'relations-p2p-3-thread.png')
    })

    await run('Alice deletes her message: both see "message deleted", its reactions gone', async () => {
      await deleteMessage(pageA, 'hello from afar')
      for (const page of [pageA, pageB]) {
        await waitForMessage(page, 'message deleted', (li) => li.classList.contains('redacted') && !li.querySelector('[data-testid=reaction]'), federated)
      }
      await shot(pageB, 'relations-p2p-4-deleted.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'Alice', env: a, page: pageA, screenshot: 'relations-p2p-failure-a.png' },
      { label: 'Bob', env: b, page: pageB, screenshot: 'relations-p2p-failure-b.png' }
    ])
  } finally {
    await Promise.all([a.close(), b.close()])
    await relay.stop()
    await rm(siteDir, { recursive: true, force: true })
  }
})
