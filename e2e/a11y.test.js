/**
 * The built-in client for people who use the keyboard, a screen reader, or a
 * dark system theme: every control has a name, keyboard focus is visible,
 * a message can be written, reacted to and edited without the mouse, and the
 * page turns dark when the system is.
 *
 * Run `npm run build` first; then `node --test e2e/a11y.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { STEP_TIMEOUT, openSite, register, createRoom, waitForMessages, waitForMessage, messageAction, sendRaw } from './ui.js'

test('keyboard, visible focus, labelled controls, dark theme', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'a11y' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page, roomId
  const { run, explain } = steps(t, [env])
  const shot = (file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const focused = () => page.evaluate(() => document.activeElement?.dataset.testid ?? document.activeElement?.id)
  /** The roles of controls in sight that a screen reader has no name for. */
  const unnamedControls = async () => {
    const unnamed = []
    const walk = (node) => {
      if (['button', 'textbox', 'checkbox', 'radio', 'link', 'combobox'].includes(node.role) && !node.name?.trim()) unnamed.push(`${node.role}`)
      for (const child of node.children ?? []) walk(child)
    }
    walk(await page.accessibility.snapshot())
    return unnamed
  }

  try {
    page = await env.newPage()
    await openSite(page, env.site.url)
    await run('sign up and create a room', async () => {
      await register(page, 'Keys', 'keyboard only')
      roomId = await createRoom(page, { name: 'Keyboard' })
    })

    await run('every control in sight has a name a screen reader can say', async () => {
      await page.click('[data-testid=new-room-open]') // its form too
      assert.deepEqual(await unnamedControls(), [])
      await page.click('[data-testid=new-room-cancel]')
    })

    await run('write with the keyboard; Tab shows where focus is', async () => {
      await page.focus('[data-testid=composer-input]')
      await page.keyboard.type('typed without a mouse')
      await page.keyboard.press('Enter')
      await waitForMessages(page, ['typed without a mouse'])
      await page.keyboard.down('Shift')
      await page.keyboard.press('Tab')
      await page.keyboard.up('Shift')
      assert.equal(await focused(), 'attach')
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle)
      assert.notEqual(outline, 'none', 'keyboard focus is not drawn')
    })

    await run('reach the message\'s actions with Shift+Tab, react (the picker and focus survive a redraw), and the picker closes with Escape', async () => {
      for (let i = 0; i < 20 && await focused() !== 'message-react'; i++) {
        await page.keyboard.down('Shift')
        await page.keyboard.press('Tab')
        await page.keyboard.up('Shift')
      }
      assert.equal(await focused(), 'message-react')
      assert.equal(await page.$eval('.message-actions', (e) => getComputedStyle(e).opacity), '1', 'the actions show while focused')
      await page.keyboard.press('Enter')
      assert.equal(await focused(), 'reaction-choice')
      await shot('a11y-1-keyboard-react.png')
      // A reaction from elsewhere draws the message anew while its picker is open: neither the picker nor the focus is lost.
      const eventId = await page.$eval('[data-testid=timeline] [data-testid=message]:last-child', (li) => li.dataset.eventId)
      await sendRaw(page, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key: '🔥' } }, { type: 'm.reaction' })
      await waitForMessage(page, 'typed without a mouse', (li) => li.querySelector('[data-testid=reaction][data-key="🔥"]'))
      assert.equal(await focused(), 'reaction-choice')
      assert.equal(await page.$eval('[data-testid=timeline] [data-testid=message]:last-child [data-testid=reaction-picker]', (e) => e.hidden), false)
      await page.keyboard.press('Enter')
      await waitForMessage(page, 'typed without a mouse', (li) => li.querySelector('[data-testid=reaction][data-key="👍"][aria-pressed=true]'))
      await page.focus('[data-testid=message-react]') // the message was drawn anew with its reaction
      await page.keyboard.press('Enter')
      await page.waitForSelector('[data-testid=reaction-picker]:not([hidden])')
      await page.keyboard.press('Escape')
      await page.waitForSelector('[data-testid=reaction-picker][hidden]')
      assert.equal(await focused(), 'message-react')
    })

    await run('ArrowUp in the empty composer edits the last message; Escape leaves the edit', async () => {
      await page.focus('[data-testid=composer-input]')
      await page.keyboard.press('ArrowUp')
      await page.waitForSelector('[data-testid=composer-context][data-kind=edit]:not([hidden])', { timeout: STEP_TIMEOUT })
      assert.equal(await page.$eval('[data-testid=composer-input]', (e) => e.value), 'typed without a mouse')
      await page.keyboard.press('Escape')
      await page.waitForSelector('[data-testid=composer-context]', { hidden: true, timeout: STEP_TIMEOUT })
      assert.equal(await page.$eval('[data-testid=composer-input]', (e) => e.value), '')
    })

    await run('a thread answered from the keyboard; the thread, members, profile and room settings name every control', async () => {
      await page.click('[data-testid=members-toggle]')
      await messageAction(page, 'typed without a mouse', 'message-thread')
      await page.waitForSelector('[data-testid=thread]:not([hidden])')
      assert.equal(await focused(), 'thread-input', 'the thread\'s composer takes focus')
      await page.keyboard.type('answered in the thread')
      await page.keyboard.press('Enter')
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=thread-timeline] [data-testid=message]')]
        .some((li) => li.dataset.pending === 'false' && li.textContent.includes('answered in the thread')), { timeout: STEP_TIMEOUT })
      assert.deepEqual(await unnamedControls(), [])
      await shot('a11y-4-thread-members.png')
      for (const [open, dialog] of [['profile-open', 'profile'], ['settings-open', 'settings']]) {
        await page.click(`[data-testid=${open}]`)
        await page.waitForSelector(`[data-testid=${dialog}][open]`)
        assert.deepEqual(await unnamedControls(), [], `in ${dialog}`)
        await shot(`a11y-5-${dialog}.png`)
        await page.keyboard.press('Escape')
        await page.waitForSelector(`[data-testid=${dialog}]:not([open])`)
      }
    })

    await run('the page is dark when the system is', async () => {
      const colours = () => page.evaluate(() => {
        const luminance = (css) => {
          const [r, g, b] = css.match(/\d+(\.\d+)?/g).map(Number)
          return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
        }
        const body = getComputedStyle(document.body)
        return { background: luminance(body.backgroundColor), text: luminance(body.color) }
      })
      const light = await colours()
      assert.ok(light.background > 0.8 && light.text < 0.3, JSON.stringify(light))
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }])
      const dark = await colours()
      assert.ok(dark.background < 0.2 && dark.text > 0.7, JSON.stringify(dark))
      await shot('a11y-2-dark.png')
      await page.setViewport({ width: 390, height: 800 })
      await shot('a11y-3-dark-phone.png')
      await page.click('[data-testid=settings-open]')
      await page.waitForSelector('[data-testid=settings][open]')
      await shot('a11y-6-dark-phone-settings.png')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'a11y', env, page, screenshot: 'a11y-failure.png' }])
  } finally {
    await env.close()
  }
})
