/**
 * Two people, two browsers (separate Chromium profiles, so two homeservers),
 * one relay: Alice creates a room and invites Bob by his user ID, Bob accepts,
 * they write both ways, and Alice sees Bob typing and reading her message.
 * Meanwhile the two workers link directly (WebRTC, hosted by the pages,
 * signalled over the relay); the relay is then stopped and they go on
 * chatting. All through the built-in client's controls.
 *
 * Run `npm run build` first; then `npm run test:browser`.
 */
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { openBrowser, siteWithConfig, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { createRelay } from '../js/relay/index.js'
import { STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, waitOnline } from './ui.js'

const DISCOVERY_TIMEOUT = 15000
/** Federation of a join or a message between two browsers may take a few round trips. */
const FEDERATION_TIMEOUT = 45000
/** Typing and receipts are EDUs (m.typing, m.receipt), sent at once, not batched with PDUs. */
const EDU_TIMEOUT = 10000
const quiet = { log () {}, info () {}, warn () {} }

test('two browsers chat: invite, accept, messages both ways, read receipt, typing; then a direct WebRTC link carries it without the relay', {
  timeout: 300000
}, async (t) => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const siteDir = await siteWithConfig({ relay: relay.multiaddrs()[0], debug: null })
  const a = await openBrowser({ name: 'chat-a', dir: siteDir })
  const b = await openBrowser({ name: 'chat-b', dir: siteDir })
  t.signal.addEventListener('abort', () => { a.close(); b.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [a, b])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'two browsers, one room'

  try {
    pageA = await a.newPage()
    pageB = await b.newPage()
    let alice, bob
    await run('both sign up and go online', async () => {
      await Promise.all([openSite(pageA, a.site.url), openSite(pageB, b.site.url)])
      ;[alice, bob] = await Promise.all([register(pageA, 'Alice', password), register(pageB, 'Bob', password)])
      assert.notEqual(alice.split(':')[1], bob.split(':')[1], 'two profiles are two servers')
      for (const page of [pageA, pageB]) await waitOnline(page, { timeout: DISCOVERY_TIMEOUT })
    })

    const features = await pageA.evaluate(async () => {
      // Which optional endpoints this server has (a probe, not part of the person's steps).
      const token = JSON.parse(localStorage.getItem('hearth.session')).accessToken
      const probe = async (method, path) => {
        const res = await fetch(`/_matrix/client/v3${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' })
        return (await res.json().catch(() => ({}))).errcode !== 'M_UNRECOGNIZED'
      }
      return {
        typing: await probe('PUT', '/rooms/!probe:x/typing/@probe:x'),
        receipts: await probe('POST', '/rooms/!probe:x/receipt/m.read/$probe')
      }
    })
    t.diagnostic(`server features: ${JSON.stringify(features)}`)

    await run('Alice creates a room and invites Bob by his user ID', async () => {
      await createRoom(pageA, { name: 'Across' })
      await send(pageA, 'hello from Alice')
      await waitForMessages(pageA, ['hello from Alice'])
      await pageA.click('[data-testid=invite-open]')
      await pageA.type('[data-testid=invite-user]', bob)
      await pageA.click('[data-testid=invite-send]')
      await pageA.waitForSelector('[data-testid=invite-form]', { hidden: true, timeout: FEDERATION_TIMEOUT })
      await pageA.click('[data-testid=members-toggle]')
      await pageA.waitForSelector(`[data-testid=member][data-user-id="${bob}"]`, { timeout: STEP_TIMEOUT })
    })

    await run('Bob sees the invitation and accepts it: Alice\'s message is there', async () => {
      await pageB.waitForSelector('[data-testid=invite] [data-testid=invite-accept]', { timeout: FEDERATION_TIMEOUT })
      await shot(pageB, 'chat-1-bob-invited.png')
      await pageB.click('[data-testid=invite-accept]')
      await pageB.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Across', { timeout: FEDERATION_TIMEOUT })
      await waitForMessages(pageB, ['hello from Alice'], { timeout: FEDERATION_TIMEOUT })
      await pageA.waitForSelector(`[data-testid=member][data-user-id="${bob}"][data-membership=join]`, { timeout: FEDERATION_TIMEOUT })
    })

    await run('they write both ways', async () => {
      await send(pageB, 'hello from Bob')
      await waitForMessages(pageA, ['hello from Alice', 'hello from Bob'], { timeout: FEDERATION_TIMEOUT })
      await send(pageA, 'nice to meet you, Bob')
      await waitForMessages(pageB, ['hello from Alice', 'hello from Bob', 'nice to meet you, Bob'], { timeout: FEDERATION_TIMEOUT })
      await waitForMessages(pageA, ['hello from Alice', 'hello from Bob', 'nice to meet you, Bob'])
    })

    // Before Bob writes again: once his newest read event is his own
    // message, no "Seen by Bob" shows on Alice's (the client hides a
    // sender's receipt on their own message).
    await run('Alice sees Bob has read her message', async () => {
      assert.ok(features.receipts, 'the server has no receipt endpoint')
      await pageA.waitForSelector(`[data-testid=read-receipt][title*="${bob}"]`, { timeout: EDU_TIMEOUT })
    })

    await run('Bob types: Alice sees it', async () => {
      assert.ok(features.typing, 'the server has no typing endpoint')
      await pageB.type('[data-testid=composer-input]', 'I am typing something long')
      await pageA.waitForFunction(() => document.querySelector('[data-testid=typing]').textContent.includes('is typing'),
        { timeout: EDU_TIMEOUT })
      await shot(pageA, 'chat-2-alice-sees-typing.png')
      await pageB.keyboard.press('Enter')
      await pageA.waitForFunction(() => document.querySelector('[data-testid=typing]').textContent === '', { timeout: FEDERATION_TIMEOUT })
      await waitForMessages(pageA, ['hello from Alice', 'hello from Bob', 'nice to meet you, Bob', 'I am typing something long'], { timeout: FEDERATION_TIMEOUT })
    })

    await shot(pageA, 'chat-3-alice.png')
    await shot(pageB, 'chat-4-bob.png')

    // Their federation traffic made each worker try a WebRTC link (signalled
    // over the relay, hosted by the page): both list the other as direct.
    const [serverA, serverB] = [alice, bob].map((id) => id.split(':')[1])
    await run('the two browsers link directly (WebRTC), the relay only signalled', async () => {
      await pageA.waitForSelector(`[data-testid=peer][data-peer-id="${serverB}"][data-direct=true]`, { timeout: FEDERATION_TIMEOUT })
      await pageB.waitForSelector(`[data-testid=peer][data-peer-id="${serverA}"][data-direct=true]`, { timeout: FEDERATION_TIMEOUT })
    })

    await run('the relay goes away: they keep chatting over the direct link', async () => {
      await relay.stop()
      for (const page of [pageA, pageB]) {
        await page.waitForSelector('[data-testid=network]:not([data-state=online])', { timeout: STEP_TIMEOUT })
      }
      const before = ['hello from Alice', 'hello from Bob', 'nice to meet you, Bob', 'I am typing something long']
      await send(pageA, 'still here without the relay?')
      await waitForMessages(pageB, [...before, 'still here without the relay?'], { timeout: FEDERATION_TIMEOUT })
      await send(pageB, 'yes, browser to browser')
      await waitForMessages(pageA, [...before, 'still here without the relay?', 'yes, browser to browser'], { timeout: FEDERATION_TIMEOUT })
      await shot(pageA, 'chat-5-alice-direct.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'A (Alice)', env: a, page: pageA, screenshot: 'chat-failure-a.png' },
      { label: 'B (Bob)', env: b, page: pageB, screenshot: 'chat-failure-b.png' }
    ])
  } finally {
    await Promise.all([a.close(), b.close()])
    await relay.stop()
    await rm(siteDir, { recursive: true, force: true })
  }
})

