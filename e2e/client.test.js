/**
 * The built-in client in one browser, driven as a person would: sign up with a
 * display name, create a private and a public room, send (pending, then sent;
 * a failed send retried), members, an invitation accepted by a second account
 * on the same server, joining from the public room directory, unread counts
 * across two rooms, leaving, and the phone-width layout.
 *
 * Both accounts live on this browser's server and take turns (log out, log in):
 * one browser profile is one homeserver with one session at a time.
 *
 * Run `npm run build` first; then `npm run test:browser`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import {
  STEP_TIMEOUT, openSite, register, logIn, createRoom, openRoom, send, waitForMessages, unreadCount, backToList, clickRedrawn
} from './ui.js'

test('the client in one browser: rooms, messages, invitations, directory, unread counts, leave, phone width', { timeout: 240000 }, async (t) => {
  const env = await openBrowser({ name: 'client' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  const shot = (file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'a long enough password'

  try {
    page = await env.newPage()
    await openSite(page, env.site.url)
    let bob, alice

    await run('first visit: Bob signs up with a display name, and logs out', async () => {
      await shot('client-0-sign-up.png')
      bob = await register(page, 'Bob Builder', password)
      assert.match(bob, /^@bob\.builder:12D3KooW\w+$/)
      const whoami = await page.$eval('[data-testid=whoami]', (e) => e.textContent)
      assert.ok(whoami.startsWith('Bob Builder'), whoami)
      assert.equal(await page.$eval('[data-testid=my-peer-id]', (e) => e.textContent), bob.slice(bob.indexOf(':') + 1))
      await page.click('[data-testid=logout]')
    })

    await run('Alice signs up and creates a private room with a topic', async () => {
      // The form opens on log-in once the log-out is through.
      await page.waitForSelector('[data-testid=auth]:not([hidden])', { timeout: STEP_TIMEOUT })
      await page.click('[data-testid=auth-switch]')
      alice = await register(page, 'Alice', password)
      await createRoom(page, { name: 'Kitchen', topic: 'Where we cook' })
      assert.equal(await page.$eval('[data-testid=room-topic]', (e) => e.textContent), 'Where we cook')
      await page.click('[data-testid=members-toggle]')
      await page.waitForSelector(`[data-testid=member][data-user-id="${alice}"][data-membership=join]`, { timeout: STEP_TIMEOUT })
    })

    await run('a message shows at once as pending, then as sent', async () => {
      await page.evaluate(() => {
        // Records every state a message element was seen in.
        window.seenStates = []
        new MutationObserver(() => {
          for (const li of document.querySelectorAll('[data-testid=message]')) {
            window.seenStates.push(`${li.querySelector('[data-testid=message-body]').textContent}:${li.dataset.pending}`)
          }
        }).observe(document.getElementById('timeline'), { subtree: true, childList: true, attributes: true })
      })
      await send(page, 'hello kitchen')
      await waitForMessages(page, ['hello kitchen'])
      const seen = await page.evaluate(() => window.seenStates)
      assert.ok(seen.includes('hello kitchen:true'), `never seen pending: ${seen}`)
      const own = await page.$eval('[data-testid=message]', (e) => ({ own: e.dataset.own, sender: e.querySelector('[data-testid=message-sender]').textContent }))
      assert.deepEqual(own, { own: 'true', sender: 'Alice (you)' })
    })

    await run('a send that fails is shown as failed, and Retry sends it', async () => {
      // The next send cannot reach the worker, once, as when the server is
      // unreachable: whether the client fetches it or posts it on the client
      // port (sw/protocol.js).
      await page.evaluate(() => {
        const realFetch = window.fetch
        const realPost = ServiceWorker.prototype.postMessage
        const restore = () => {
          window.fetch = realFetch
          ServiceWorker.prototype.postMessage = realPost
        }
        const isSend = (method, url) => method === 'PUT' && String(url).includes('/send/')
        window.fetch = (url, init) => {
          if (!isSend(init?.method, url)) return realFetch(url, init)
          restore()
          return Promise.reject(new TypeError('Failed to fetch'))
        }
        ServiceWorker.prototype.postMessage = function (message, ...rest) {
          if (!isSend(message?.request?.method, message?.request?.url)) return realPost.call(this, message, ...rest)
          restore()
          throw new TypeError('Failed to send')
        }
      })
      await send(page, 'second try')
      await page.waitForSelector('[data-testid=message][data-failed=true] [data-testid=message-retry]', { timeout: STEP_TIMEOUT })
      await shot('client-1-failed-send.png')
      await clickRedrawn(page, '[data-testid=message-retry]')
      await waitForMessages(page, ['hello kitchen', 'second try'])
      assert.equal(await page.$('[data-testid=message][data-failed=true]'), null)
    })

    await run('Alice invites Bob to Kitchen and creates a public room', async () => {
      await page.click('[data-testid=invite-open]')
      await page.type('[data-testid=invite-user]', bob)
      await page.click('[data-testid=invite-send]')
      await page.waitForSelector(`[data-testid=member][data-user-id="${bob}"][data-membership=invite]`, { timeout: STEP_TIMEOUT })
      await createRoom(page, { name: 'Plaza', topic: 'Everyone welcome', isPublic: true })
      await send(page, 'plaza is open')
      await waitForMessages(page, ['plaza is open'])
      await shot('client-2-alice.png')
      await page.click('[data-testid=logout]')
    })

    await run('Bob accepts the invitation, finds Plaza in the directory and joins it, and writes in both', async () => {
      await logIn(page, 'bob.builder', password)
      await page.waitForSelector('[data-testid=invite] [data-testid=invite-accept]', { timeout: STEP_TIMEOUT })
      assert.equal(await page.$eval('[data-testid=invite-name]', (e) => e.textContent), 'Kitchen')
      await shot('client-3-invitation.png')
      await page.click('[data-testid=invite-accept]')
      await page.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Kitchen', { timeout: STEP_TIMEOUT })
      await waitForMessages(page, ['hello kitchen', 'second try'])
      const sender = await page.$eval('[data-testid=message] [data-testid=message-sender]', (e) => e.textContent)
      // "alice" (the user name) until the server has profiles.
      assert.equal(sender.toLowerCase(), 'alice')
      await send(page, 'hi Alice')
      await send(page, 'what is cooking?')
      await waitForMessages(page, ['hello kitchen', 'second try', 'hi Alice', 'what is cooking?'])

      await page.click('[data-testid=directory-open]')
      await page.waitForSelector('[data-testid=public-room] [data-testid=public-room-join]', { timeout: STEP_TIMEOUT })
      await page.waitForFunction(() => document.querySelector('[data-testid=directory-status]').dataset.loading === 'false', { timeout: STEP_TIMEOUT })
      const listed = await page.$$eval('[data-testid=public-room-name]', (els) => els.map((e) => e.textContent))
      assert.deepEqual(listed, ['Plaza'])
      await shot('client-4-directory.png')
      await page.click('[data-testid=public-room-join]')
      await page.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Plaza', { timeout: STEP_TIMEOUT })
      await send(page, 'hello plaza')
      await waitForMessages(page, ['plaza is open', 'hello plaza'])
      await page.click('[data-testid=logout]')
    })

    await run('Alice sees unread counts in both rooms; reading one clears only its count', async () => {
      await logIn(page, 'alice', password)
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=room-item]').length === 2, { timeout: STEP_TIMEOUT })
      // Reading Plaza clears its count; Kitchen's stays.
      await openRoom(page, 'Plaza')
      await waitForMessages(page, ['plaza is open', 'hello plaza'])
      await page.waitForFunction(() => document.querySelector('[data-testid=room-item][data-unread="0"]'), { timeout: STEP_TIMEOUT })
      assert.equal(await unreadCount(page, 'Plaza'), 0)
      assert.equal(await unreadCount(page, 'Kitchen'), 2)
      await shot('client-5-unread.png')
      await openRoom(page, 'Kitchen')
      await waitForMessages(page, ['hello kitchen', 'second try', 'hi Alice', 'what is cooking?'])
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=room-item]')].every((b) => b.dataset.unread === '0'), { timeout: STEP_TIMEOUT })
      const members = await page.$$eval('[data-testid=member][data-membership=join]', (els) => els.map((e) => e.dataset.userId).sort())
      assert.deepEqual(members, [alice, bob].sort())
    })

    await run('phone width: the room list and the room take turns', async () => {
      await page.setViewport({ width: 390, height: 800 })
      assert.equal(await page.$eval('[data-testid=app]', (e) => e.dataset.view), 'room')
      assert.equal(await page.$eval('[data-testid=sidebar]', (e) => getComputedStyle(e).display), 'none')
      await shot('client-6-phone-room.png')
      await backToList(page)
      assert.equal(await page.$eval('[data-testid=room]', (e) => getComputedStyle(e).display), 'none')
      await shot('client-7-phone-list.png')
      await openRoom(page, 'Plaza')
      assert.equal(await page.$eval('[data-testid=sidebar]', (e) => getComputedStyle(e).display), 'none')
      await page.setViewport({ width: 1000, height: 760 })
    })

    await run('Alice leaves Plaza: it leaves the room list', async () => {
      await openRoom(page, 'Plaza')
      await page.click('[data-testid=leave]')
      await page.click('[data-testid=leave-yes]')
      await page.waitForFunction(() => ![...document.querySelectorAll('[data-testid=room-item-name]')].some((e) => e.textContent === 'Plaza'),
        { timeout: STEP_TIMEOUT })
      assert.equal(await page.$eval('[data-testid=room-title]', (e) => e.textContent), 'No room selected')
      await shot('client-8-left.png')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'client', env, page, screenshot: 'client-failure.png' }])
  } finally {
    await env.close()
  }
})
