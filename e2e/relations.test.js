/**
 * Replies, edits, reactions and deletion between two people, through the
 * client's controls: Alice and Bob are two accounts of one browser's server,
 * each in their own tab (a second tab that signs up is a second person; the
 * first keeps its session in memory).
 *
 * Run `npm run build` first; then `node --test e2e/relations.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, messageAction, waitForMessage } from './ui.js'

test('replies, edits, reactions and deletion between two people', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'relations' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [env])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'replies and reactions'
  // Two tabs of one window: only the front one renders (waitForFunction polls
  // on animation frames), so each person's turn brings their tab to the front.
  const as = async (page) => { await page.bringToFront(); return page }

  try {
    pageA = await env.newPage()
    pageB = await env.newPage()
    // Bob's tab starts signed out: the saved session is Alice's tab's.
    await pageB.evaluateOnNewDocument(() => localStorage.removeItem('hearth.session'))
    let bob
    await run('Alice and Bob sign up in their tabs; Alice invites Bob, he joins', async () => {
      await openSite(await as(pageA), env.site.url)
      await register(await as(pageA), 'Alice', password)
      await openSite(await as(pageB), env.site.url)
      bob = await register(await as(pageB), 'Bob', password)
      await createRoom(await as(pageA), { name: 'Relations' })
      await (await as(pageA)).click('[data-testid=invite-open]')
      await (await as(pageA)).type('[data-testid=invite-user]', bob)
      await (await as(pageA)).click('[data-testid=invite-send]')
      await (await as(pageB)).waitForSelector('[data-testid=invite-accept]', { timeout: STEP_TIMEOUT })
      await (await as(pageB)).click('[data-testid=invite-accept]')
      await (await as(pageB)).waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Relations', { timeout: STEP_TIMEOUT })
      await send(await as(pageA), 'helo world')
      await waitForMessages(await as(pageB), ['helo world'])
    })

    await run('Bob reacts 👍; Alice sees who, adds hers, and takes it back', async () => {
      await messageAction(await as(pageB), 'helo world', 'message-react')
      await messageAction(await as(pageB), 'helo world', 'reaction-choice', '👍')
      await waitForMessage(await as(pageA), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-key="👍"][data-count="1"]'))
      const title = await (await as(pageA)).$eval('[data-testid=reaction]', (e) => e.title)
      assert.equal(title, 'Bob reacted with 👍')
      await (await as(pageA)).click('[data-testid=reaction][data-key="👍"]')
      await waitForMessage(await as(pageA), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-count="2"][aria-pressed=true]'))
      await waitForMessage(await as(pageB), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-count="2"][aria-pressed=true]'))
      await shot(await as(pageB), 'relations-1-reactions.png')
      await (await as(pageA)).click('[data-testid=reaction][data-key="👍"]')
      await waitForMessage(await as(pageA), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-count="1"][aria-pressed=false]'))
    })

    await run('Bob replies; Alice sees the quote and jumps to the message it answers', async () => {
      await send(await as(pageB), 'filler one')
      await messageAction(await as(pageB), 'helo world', 'message-reply')
      const context = await (await as(pageB)).$eval('[data-testid=composer-context-text]', (e) => e.textContent)
      assert.equal(context, 'Replying to Alice')
      await send(await as(pageB), 'hello to you too')
      await waitForMessages(await as(pageA), ['helo world', 'filler one', 'hello to you too'])
      const quote = await (await as(pageA)).$eval('[data-testid=reply-quote]', (e) => e.textContent)
      assert.equal(quote, 'Alice helo world')
      await (await as(pageA)).click('[data-testid=reply-quote]')
      const focused = await (await as(pageA)).evaluate(() => document.activeElement.querySelector('[data-testid=message-body]')?.textContent)
      assert.ok(focused.startsWith('helo world'), `focus is on ${focused}`)
      await shot(await as(pageA), 'relations-2-reply.png')
    })

    await run('Alice edits her message: Bob sees the new text, "(edited)", and the quote follows', async () => {
      await messageAction(await as(pageA), 'helo world', 'message-edit')
      assert.equal(await (await as(pageA)).$eval('[data-testid=composer-input]', (e) => e.value), 'helo world')
      await (await as(pageA)).keyboard.down('Control')
      await (await as(pageA)).keyboard.press('KeyA')
      await (await as(pageA)).keyboard.up('Control')
      await send(await as(pageA), 'hello **world**')
      await waitForMessage(await as(pageB), 'hello world', (li) => li.dataset.edited === 'true' && li.querySelector('strong')?.textContent === 'world')
      assert.equal(await (await as(pageB)).$eval('[data-testid=message-edited]', (e) => e.textContent), ' (edited)')
      await (await as(pageB)).waitForFunction(() => document.querySelector('[data-testid=reply-quote]').textContent === 'Alice hello **world**', { timeout: STEP_TIMEOUT })
      // The edit is not a message of its own.
      assert.equal(await (await as(pageB)).$$eval('[data-testid=message]', (els) => els.length), 3)
      await shot(await as(pageB), 'relations-3-edited.png')
    })

    await run('Alice deletes it (asked twice): both see "message deleted", its reactions gone', async () => {
      await messageAction(await as(pageA), 'hello world', 'message-delete')
      await (await as(pageA)).waitForSelector('[data-testid=message-delete][data-confirm=true]')
      await (await as(pageA)).click('[data-testid=message-delete][data-confirm=true]')
      for (const page of [pageA, pageB]) {
        await waitForMessage(page, 'message deleted', (li) => li.classList.contains('redacted') && !li.querySelector('[data-testid=reaction]'))
      }
      await (await as(pageB)).waitForFunction(() => document.querySelector('[data-testid=reply-quote]').textContent === 'Alice message deleted', { timeout: STEP_TIMEOUT })
      await shot(await as(pageB), 'relations-4-deleted.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'Alice', env, page: pageA, screenshot: 'relations-failure-a.png' },
      { label: 'Bob', env, page: pageB, screenshot: 'relations-failure-b.png' }
    ])
  } finally {
    await env.close()
  }
})
