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
import {
  STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, messageAction, reactTo, deleteMessage, waitForMessage, front, personTab, inviteAndAccept, clickRedrawn
} from './ui.js'

test('replies, edits, reactions and deletion between two people', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'relations' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [env])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'replies and reactions'

  try {
    pageA = await env.newPage()
    pageB = await personTab(env)
    let bob
    await run('Alice and Bob sign up in their tabs; Alice invites Bob, he joins', async () => {
      await openSite(await front(pageA), env.site.url)
      await register(await front(pageA), 'Alice', password)
      await openSite(await front(pageB), env.site.url)
      bob = await register(await front(pageB), 'Bob', password)
      await createRoom(await front(pageA), { name: 'Relations' })
      await inviteAndAccept(pageA, pageB, bob, 'Relations')
      await send(await front(pageA), 'helo world')
      await waitForMessages(await front(pageB), ['helo world'])
    })

    await run('Bob reacts 👍; Alice sees who, adds hers, and takes it back', async () => {
      await reactTo(await front(pageB), 'helo world', '👍')
      await waitForMessage(await front(pageA), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-key="👍"][data-count="1"]'))
      const title = await (await front(pageA)).$eval('[data-testid=reaction]', (e) => e.title)
      assert.equal(title, 'Bob reacted with 👍')
      await messageAction(await front(pageA), 'helo world', 'reaction', '👍')
      await waitForMessage(await front(pageA), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-count="2"][aria-pressed=true]'))
      await waitForMessage(await front(pageB), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-count="2"][aria-pressed=true]'))
      await shot(await front(pageB), 'relations-1-reactions.png')
      await messageAction(await front(pageA), 'helo world', 'reaction', '👍')
      await waitForMessage(await front(pageA), 'helo world', (li) => li.querySelector('[data-testid=reaction][data-count="1"][aria-pressed=false]'))
    })

    await run('Bob replies; Alice sees the quote and jumps to the message it answers', async () => {
      await send(await front(pageB), 'filler one')
      await messageAction(await front(pageB), 'helo world', 'message-reply')
      const context = await (await front(pageB)).$eval('[data-testid=composer-context-text]', (e) => e.textContent)
      assert.equal(context, 'Replying to Alice')
      await send(await front(pageB), 'hello to you too')
      await waitForMessages(await front(pageA), ['helo world', 'filler one', 'hello to you too'])
      const quote = await (await front(pageA)).$eval('[data-testid=reply-quote]', (e) => e.textContent)
      assert.equal(quote, 'Alice helo world')
      // A reply mentions the one it answers: marked for Alice, not for Bob.
      await waitForMessage(await front(pageA), 'hello to you too', (li) => li.dataset.mention === 'true')
      await waitForMessage(await front(pageB), 'hello to you too', (li) => li.dataset.mention === undefined)
      await front(pageA)
      await clickRedrawn(await front(pageA), '[data-testid=reply-quote]')
      const focused = await (await front(pageA)).evaluate(() => document.activeElement.querySelector('[data-testid=message-body]')?.textContent)
      assert.ok(focused.startsWith('helo world'), `focus is on ${focused}`)
      await shot(await front(pageA), 'relations-2-reply.png')
    })

    await run('Alice edits her message: Bob sees the new text, "(edited)", and the quote follows', async () => {
      await messageAction(await front(pageA), 'helo world', 'message-edit')
      assert.equal(await (await front(pageA)).$eval('[data-testid=composer-input]', (e) => e.value), 'helo world')
      await (await front(pageA)).keyboard.down('Control')
      await (await front(pageA)).keyboard.press('KeyA')
      await (await front(pageA)).keyboard.up('Control')
      await send(await front(pageA), 'hello **world**')
      await waitForMessage(await front(pageB), 'hello world', (li) => li.dataset.edited === 'true' && li.querySelector('strong')?.textContent === 'world')
      assert.equal(await (await front(pageB)).$eval('[data-testid=message-edited]', (e) => e.textContent), ' (edited)')
      await (await front(pageB)).waitForFunction(() => document.querySelector('[data-testid=reply-quote]').textContent === 'Alice hello **world**', { timeout: STEP_TIMEOUT })
      // The edit is not a message of its own.
      assert.equal(await (await front(pageB)).$$eval('[data-testid=message]', (els) => els.length), 3)
      await shot(await front(pageB), 'relations-3-edited.png')
    })

    await run('Alice deletes it (asked twice): both see "message deleted", its reactions gone', async () => {
      await deleteMessage(await front(pageA), 'hello world')
      for (const page of [pageA, pageB]) {
        await waitForMessage(page, 'message deleted', (li) => li.classList.contains('redacted') && !li.querySelector('[data-testid=reaction]'))
      }
      await (await front(pageB)).waitForFunction(() => document.querySelector('[data-testid=reply-quote]').textContent === 'Alice message deleted', { timeout: STEP_TIMEOUT })
      await shot(await front(pageB), 'relations-4-deleted.png')
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
