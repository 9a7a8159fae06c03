/**
 * History in the built-in client: Bob writes 200 messages while Alice is in
 * another room; she opens the room and scrolls up with the mouse wheel, and
 * older messages keep coming in (no button) until the room's start, each
 * once and in order; a "New messages" divider sits above the first one she
 * had not read, a message arriving meanwhile moves nothing on her screen, and
 * "Jump to latest" brings her back down.
 *
 * Run `npm run build` first; then `node --test e2e/history.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import {
  STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, openRoom, sendRaw, savedToken, front, personTab, inviteAndAccept
} from './ui.js'

const COUNT = 200

test('infinite scroll through 200 messages, the new-messages divider, jump to latest', { timeout: 240000 }, async (t) => {
  const env = await openBrowser({ name: 'history' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [env])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })

  try {
    // Both sign up afresh in their tabs; the tab Alice opens later finds her saved session.
    pageA = await personTab(env)
    pageB = await personTab(env)
    let roomId, bobToken
    await run('Bob and Alice sign up; Alice writes in History, invites Bob, and closes her tab', async () => {
      // Bob first: the session saved last, which a new tab finds, is Alice's.
      await openSite(await front(pageB), env.site.url)
      const bob = await register(pageB, 'Bob', 'scroll scroll scroll')
      bobToken = await savedToken(pageB)
      await openSite(await front(pageA), env.site.url)
      await register(pageA, 'Alice', 'scroll scroll scroll')
      roomId = await createRoom(await front(pageA), { name: 'History' })
      await send(pageA, 'before it all')
      await waitForMessages(pageA, ['before it all'])
      await inviteAndAccept(pageA, pageB, bob, 'History')
      await pageA.close()
    })

    await run(`Bob writes ${COUNT} messages (through the client API, for speed)`, async () => {
      for (let i = 1; i <= COUNT; i++) await sendRaw(pageB, roomId, { msgtype: 'm.text', body: `message ${i}` }, { token: bobToken })
      await (await front(pageB)).waitForFunction((n) => document.querySelector('[data-testid=message]:last-child [data-testid=message-body]')?.textContent === n,
        { timeout: STEP_TIMEOUT }, `message ${COUNT}`)
    })

    await run('Alice comes back and opens History: it shows the newest page; scrolling up loads the rest, in order, without a button', async () => {
      pageA = await env.newPage()
      await openSite(pageA, env.site.url)
      await pageA.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
      await openRoom(pageA, 'History')
      const loaded = () => pageA.$$eval('[data-testid=message] [data-testid=message-body]', (els) => els.map((e) => e.textContent))
      const first = await loaded()
      assert.ok(first.length < COUNT, `all ${first.length} loaded at once`)
      assert.equal(first.at(-1), `message ${COUNT}`)
      assert.equal(await pageA.$('[data-testid=load-earlier]'), null, 'no button')
      await shot(pageA, 'history-1-opened.png')
      const box = await (await pageA.$('[data-testid=timeline]')).boundingBox()
      await pageA.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
      let wheels = 0
      while (!(await pageA.$('[data-testid=notice]')) || !(await pageA.evaluate(() => /created the room/.test(document.querySelector('[data-testid=notice]').textContent)))) {
        assert.ok(++wheels < 200, `the room's start never came: ${(await loaded()).length} messages loaded`)
        await pageA.mouse.wheel({ deltaY: -1500 })
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      t.diagnostic(`${wheels} wheel turns to the room's start`)
      const all = await loaded()
      assert.deepEqual(all, ['before it all', ...Array.from({ length: COUNT }, (_, i) => `message ${i + 1}`)])
      await shot(pageA, 'history-2-top.png')
    })

    await run('the "New messages" divider sits above Bob\'s first message', async () => {
      const next = await pageA.$eval('[data-testid=new-messages]', (e) => e.nextElementSibling.querySelector('[data-testid=message-body]').textContent)
      assert.equal(next, 'message 1')
    })

    await run('a message arriving while Alice reads old ones moves nothing on her screen', async () => {
      const top = () => pageA.$eval('[data-testid=new-messages]', (e) => e.getBoundingClientRect().top)
      const before = await top()
      await sendRaw(pageB, roomId, { msgtype: 'm.text', body: 'while you read' }, { token: bobToken })
      await pageA.waitForFunction(() => [...document.querySelectorAll('[data-testid=message] [data-testid=message-body]')]
        .some((e) => e.textContent === 'while you read'), { timeout: STEP_TIMEOUT })
      const after = await top()
      assert.ok(Math.abs(after - before) < 1, `the divider moved from ${before} to ${after} px`)
    })

    await run('"Jump to latest" brings Alice back to the newest message', async () => {
      await pageA.waitForSelector('[data-testid=jump-latest]:not([hidden])', { timeout: STEP_TIMEOUT })
      await pageA.click('[data-testid=jump-latest]')
      await pageA.waitForSelector('[data-testid=jump-latest][hidden]', { timeout: STEP_TIMEOUT })
      const bottom = await pageA.$eval('[data-testid=timeline]', (e) => e.scrollHeight - e.scrollTop - e.clientHeight)
      assert.ok(bottom < 5, `${bottom} px above the bottom`)
      await shot(pageA, 'history-3-latest.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'Alice', env, page: pageA, screenshot: 'history-failure-a.png' },
      { label: 'Bob', env, page: pageB, screenshot: 'history-failure-b.png' }
    ])
  } finally {
    await env.close()
  }
})
