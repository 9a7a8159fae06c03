/**
 * Notifications in Chromium: Alice allows them (the permission is granted
 * through the browser context, as a person's click on "Allow" would), her tab
 * goes to the background, Bob writes: the service worker shows a system
 * notification, her tab's title counts the unread message, and clicking the
 * notification opens the room. Two accounts of one browser's server in two
 * tabs, as in relations.test.js.
 *
 * Headless Chromium has no notification centre: it may take a notification
 * down at once, and nothing can click one. So the test records what the page
 * asks its worker's registration to show, and hands the worker the
 * notificationclick event a click would bring.
 *
 * Run `npm run build` first; then `node --test e2e/notifications.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, openRoom, front, personTab, inviteAndAccept } from './ui.js'

test('a message arriving while the tab is hidden: system notification, unread count in the title, click opens the room', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'notify' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let pageA, pageB, bob
  let shown // the notifications Alice's page asked its worker to show
  const { run, explain } = steps(t, [env])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })

  try {
    await env.browser.defaultBrowserContext().overridePermissions(env.site.url, ['notifications'])
    pageA = await env.newPage()
    pageB = await personTab(env)
    await run('Alice and Bob sign up; Alice invites Bob to Notify, he joins; Alice opens another room', async () => {
      await openSite(await front(pageA), env.site.url)
      await register(pageA, 'Alice', 'notify me please')
      await openSite(await front(pageB), env.site.url)
      bob = await register(pageB, 'Bob', 'notify me please')
      await createRoom(await front(pageA), { name: 'Notify' })
      await inviteAndAccept(pageA, pageB, bob, 'Notify')
      await createRoom(await front(pageA), { name: 'Elsewhere' })
    })

    await run('the bell says notifications are on; it turns them off and on again', async () => {
      const bell = '[data-testid=notifications-toggle]'
      assert.equal(await pageA.$eval(bell, (e) => e.dataset.state), 'on')
      await pageA.click(bell)
      assert.equal(await pageA.$eval(bell, (e) => e.dataset.state), 'off')
      await pageA.click(bell)
      assert.equal(await pageA.$eval(bell, (e) => e.dataset.state), 'on')
      await shot(pageA, 'notify-1-bell.png')
    })

    await run('Alice\'s tab is in the background; Bob writes: a notification, and "(1)" in her title', async () => {
      // Headless Chromium may take a shown notification down at once, before
      // getNotifications() sees it: record what the page asks its worker to show.
      await pageA.evaluate(() => {
        window.shownNotifications = []
        const show = ServiceWorkerRegistration.prototype.showNotification
        ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
          window.shownNotifications.push({ title, body: options.body, data: options.data })
          return show.call(this, title, options)
        }
      })
      await front(pageB)
      assert.equal(await pageA.evaluate(() => document.visibilityState), 'hidden')
      await send(pageB, 'are you there?')
      await waitForMessages(pageB, ['are you there?'])
      // Polled from here: a hidden tab runs waitForFunction's timers too rarely.
      shown = await until(() => pageA.evaluate(() => window.shownNotifications.length > 0 && window.shownNotifications))
      assert.deepEqual(shown.map(({ title, body }) => ({ title, body })), [{ title: 'Notify', body: 'Bob: are you there?' }])
      await until(() => pageA.evaluate(() => document.title === '(1) Hearth'))
    })

    await run('clicking the notification opens the room in Alice\'s tab, and the count goes', async () => {
      // Headless Chromium has no notification to click: the worker gets the
      // click event a real one would bring, for the notification shown.
      const target = await env.browser.waitForTarget((t) => t.type() === 'service_worker')
      const worker = await target.worker()
      await worker.evaluate((data) => {
        const event = new ExtendableEvent('notificationclick')
        Object.defineProperty(event, 'notification', { value: { data, close () {} } })
        self.dispatchEvent(event)
      }, shown[0].data)
      await until(() => pageA.evaluate(() => document.querySelector('[data-testid=room-title]').textContent === 'Notify'))
      await front(pageA)
      await waitForMessages(pageA, ['are you there?'])
      await pageA.waitForFunction(() => document.title === 'Hearth', { timeout: STEP_TIMEOUT })
      await shot(pageA, 'notify-2-opened.png')
      await openRoom(pageA, 'Elsewhere')
    })

    await run('push rules decide: a notice from Bob (the default rules keep notices quiet) shows nothing; his next message does', async () => {
      await pageA.evaluate(() => { window.shownNotifications = [] })
      await front(pageB)
      assert.equal(await pageA.evaluate(() => document.visibilityState), 'hidden')
      const noticeSent = await pageB.evaluate(async (bob) => {
        const token = JSON.parse(localStorage.getItem('hearth.session')).accessToken
        const api = (method, path, body) => fetch(`/_matrix/client/v3${path}`, {
          method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body)
        }).then((res) => res.json())
        const me = await api('GET', '/account/whoami')
        if (me.user_id !== bob) return `the stored session is ${me.user_id}, not Bob's`
        const [roomId] = (await api('GET', '/joined_rooms')).joined_rooms
        const sent = await api('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/notice-1`, { msgtype: 'm.notice', body: 'a quiet notice' })
        return sent.event_id ? true : JSON.stringify(sent)
      }, bob)
      assert.equal(noticeSent, true)
      await waitForMessages(pageB, ['are you there?', 'a quiet notice'])
      await send(pageB, 'and now a real message')
      await waitForMessages(pageB, ['are you there?', 'a quiet notice', 'and now a real message'])
      const after = await until(() => pageA.evaluate(() => window.shownNotifications.length > 0 && window.shownNotifications))
      // Give a wrongly shown notice the time it would need to appear too.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const all = await pageA.evaluate(() => window.shownNotifications)
      assert.deepEqual(all.map(({ title, body }) => ({ title, body })), [{ title: 'Notify', body: 'Bob: and now a real message' }], `first seen: ${JSON.stringify(after)}`)
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'Alice', env, page: pageA, screenshot: 'notify-failure-a.png' },
      { label: 'Bob', env, page: pageB, screenshot: 'notify-failure-b.png' }
    ])
  } finally {
    await env.close()
  }
})

/** Resolves to fn()'s first truthy result, asking every 200 ms for up to STEP_TIMEOUT. */
async function until (fn) {
  const deadline = Date.now() + STEP_TIMEOUT
  for (;;) {
    const result = await fn()
    if (result) return result
    if (Date.now() > deadline) throw new Error(`not within ${STEP_TIMEOUT} ms: ${fn}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
