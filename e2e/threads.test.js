/**
 * Threads and mentions between two people, through the client's controls:
 * Bob starts a thread on Alice's message and replies in it, Alice sees the
 * reply count, opens the thread, answers; the room's thread list (the
 * server's /threads) counts them; a message naming Alice is marked for her,
 * in the timeline and on the room in her list.
 *
 * Run `npm run build` first; then `node --test e2e/threads.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import {
  STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, messageAction, waitForMessage, front, personTab, inviteAndAccept, openRoom, timelineText, clickRedrawn
} from './ui.js'

/** The texts of the open thread's messages, root first. */
const threadText = (page) => page.$$eval('[data-testid=thread-timeline] [data-testid=message-body]', (els) => els.map((e) => e.textContent))

async function waitForThread (page, texts) {
  await page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll('[data-testid=thread-timeline] [data-testid=message]')]
    .filter((li) => li.dataset.pending !== 'true').map((li) => li.querySelector('[data-testid=message-body]').textContent)) === want,
  { timeout: STEP_TIMEOUT }, JSON.stringify(texts))
}

async function replyInThread (page, text) {
  await page.type('[data-testid=thread-input]', text)
  await page.keyboard.press('Enter')
}

test('threads: reply counts, the thread view, replying in it; mentions marked', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'threads' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [env])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'threads and mentions'

  try {
    pageA = await env.newPage()
    pageB = await personTab(env)
    let bob
    await run('Alice and Bob sign up; Alice invites Bob to a room and asks a question', async () => {
      await openSite(await front(pageA), env.site.url)
      await register(await front(pageA), 'Alice', password)
      await openSite(await front(pageB), env.site.url)
      bob = await register(await front(pageB), 'Bob', password)
      await createRoom(await front(pageA), { name: 'Plans' })
      await inviteAndAccept(pageA, pageB, bob, 'Plans')
      await send(await front(pageA), 'Where shall we meet?')
      await waitForMessages(await front(pageB), ['Where shall we meet?'])
    })

    await run('Bob opens a thread on it and replies twice: the replies stay out of the room\'s timeline', async () => {
      const page = await front(pageB)
      await messageAction(page, 'Where shall we meet?', 'message-thread')
      await page.waitForSelector('[data-testid=thread]:not([hidden])')
      await waitForThread(page, ['Where shall we meet?'])
      await replyInThread(page, 'At the station')
      await waitForThread(page, ['Where shall we meet?', 'At the station'])
      await replyInThread(page, 'at **noon**')
      await waitForThread(page, ['Where shall we meet?', 'At the station', 'at noon'])
      assert.deepEqual(await timelineText(page), ['Where shall we meet?'])
      await waitForMessage(page, 'Where shall we meet?', (li) => li.querySelector('[data-testid=thread-summary][data-count="2"]'))
      await shot(page, 'threads-1-thread-view.png')
    })

    await run('Alice sees "2 replies" under her message, opens the thread and answers in it', async () => {
      const page = await front(pageA)
      await waitForMessage(page, 'Where shall we meet?', (li) => li.querySelector('[data-testid=thread-summary][data-count="2"]'))
      const summary = await page.$eval('[data-testid=thread-summary]', (e) => e.textContent)
      assert.equal(summary, '2 replies Bob: at **noon**')
      await shot(page, 'threads-2-reply-count.png')
      await clickRedrawn(page, '[data-testid=thread-summary]')
      await waitForThread(page, ['Where shall we meet?', 'At the station', 'at noon'])
      assert.equal(await page.$eval('[data-testid=thread-timeline] strong', (e) => e.textContent), 'noon')
      await replyInThread(page, 'See you there')
      await waitForThread(page, ['Where shall we meet?', 'At the station', 'at noon', 'See you there'])
      assert.deepEqual(await timelineText(page), ['Where shall we meet?'])
      await waitForMessage(await front(pageB), 'Where shall we meet?', (li) => li.querySelector('[data-testid=thread-summary][data-count="3"]'))
      await (await front(pageB)).waitForFunction(() => document.querySelectorAll('[data-testid=thread-timeline] [data-testid=message]').length === 4, { timeout: STEP_TIMEOUT })
      assert.deepEqual(await threadText(await front(pageB)), ['Where shall we meet?', 'At the station', 'at noon', 'See you there'])
    })

    await run('The room\'s thread list (from the server) shows the thread with 3 replies and opens it', async () => {
      const page = await front(pageA)
      await page.click('[data-testid=thread-close]')
      await page.waitForSelector('[data-testid=thread]', { hidden: true })
      await page.click('[data-testid=threads-open]')
      await page.waitForSelector('[data-testid=thread-root][data-count="3"]', { timeout: STEP_TIMEOUT })
      assert.equal(await page.$$eval('[data-testid=thread-root]', (els) => els.length), 1)
      await shot(page, 'threads-3-list.png')
      await clickRedrawn(page, '[data-testid=thread-root]')
      await waitForThread(page, ['Where shall we meet?', 'At the station', 'at noon', 'See you there'])
    })

    await run('Bob mentions Alice while she is in another room: her list marks the room, the message is highlighted', async () => {
      await createRoom(await front(pageA), { name: 'Elsewhere' })
      await send(await front(pageB), 'Alice, bring the tickets')
      await send(await front(pageB), 'and an umbrella')
      const page = await front(pageA)
      await page.waitForFunction(() => {
        const item = [...document.querySelectorAll('[data-testid=room-item]')].find((b) => b.textContent.includes('Plans'))
        return item?.dataset.mentions === '1' && item.dataset.unread === '2' && item.querySelector('.badge.mention')
      }, { timeout: STEP_TIMEOUT })
      await shot(page, 'threads-4-mention-badge.png')
      await openRoom(page, 'Plans')
      await waitForMessage(page, 'Alice, bring the tickets', (li) => li.dataset.mention === 'true')
      await waitForMessage(page, 'and an umbrella', (li) => li.dataset.mention === undefined)
      await waitForMessage(await front(pageB), 'Alice, bring the tickets', (li) => li.dataset.mention === undefined)
      await shot(await front(pageA), 'threads-5-mention.png')
    })

    await run('After a reload the thread is counted again and opens (its replies from /relations)', async () => {
      // A reload of the first tab opens the session saved last: Bob's (the second tab keeps its own only in memory).
      const page = await front(pageA)
      await page.reload({ waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
      await openRoom(page, 'Plans')
      await waitForMessage(page, 'Where shall we meet?', (li) => li.querySelector('[data-testid=thread-summary][data-count="3"]'))
      await clickRedrawn(page, '[data-testid=thread-summary]')
      await waitForThread(page, ['Where shall we meet?', 'At the station', 'at noon', 'See you there'])
    })

    await run('At phone width an open thread takes the place of the room, its composer on screen', async () => {
      const page = await front(pageA)
      await page.setViewport({ width: 390, height: 800 })
      const box = await page.$eval('[data-testid=thread-input]', (e) => { const r = e.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, right: r.right } })
      assert.ok(box.top > 0 && box.bottom <= 800 && box.right <= 390, `the thread composer is on screen: ${JSON.stringify(box)}`)
      assert.equal(await page.$eval('[data-testid=timeline]', (e) => e.getClientRects().length), 0, 'the room\'s timeline is out of the way')
      await shot(page, 'threads-6-phone.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'Alice', env, page: pageA, screenshot: 'threads-failure-a.png' },
      { label: 'Bob', env, page: pageB, screenshot: 'threads-failure-b.png' }
    ])
  } finally {
    await env.close()
  }
})
