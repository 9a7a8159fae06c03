/**
 * What a person does with the built-in client, as puppeteer steps: every
 * helper clicks and types through the page's controls (data-testid), never
 * the Matrix API. Shared by the browser tests.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export const STEP_TIMEOUT = 30000
/** The first start-up downloads and compiles the wasm: give it longer. */
export const BOOT_TIMEOUT = 90000

const sel = (id) => `[data-testid=${id}]`

/** Opens the site and waits for the server to be ready and the account form or the client. */
export async function openSite (page, url) {
  await page.goto(url, { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
  await page.waitForSelector('[data-testid=auth]:not([hidden]), [data-testid=app]:not([hidden])', { timeout: STEP_TIMEOUT })
}

/**
 * Waits until the page's server is online on a relay (the network line says
 * so). Other servers are listed only once they share a room with it: presence
 * is limited to the servers one asks about.
 */
export async function waitOnline (page, { timeout = STEP_TIMEOUT } = {}) {
  await page.waitForSelector('[data-testid=network][data-state=online]', { timeout })
}

/** First visit: a display name and a password; resolves to the new user ID. */
export async function register (page, displayName, password) {
  await page.waitForSelector('[data-testid=auth][data-mode=register]:not([hidden])', { timeout: STEP_TIMEOUT })
  await page.type(sel('auth-displayname'), displayName)
  await page.type(sel('auth-password'), password)
  await page.click(sel('auth-register'))
  await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
  return page.$eval(sel('my-user-id'), (e) => e.textContent)
}

/** Logs in with a user name (or full user ID) and password from the account form. */
export async function logIn (page, username, password) {
  await page.waitForSelector('[data-testid=auth]:not([hidden])', { timeout: STEP_TIMEOUT })
  if (await page.$eval(sel('auth'), (e) => e.dataset.mode) !== 'login') await page.click(sel('auth-switch'))
  await page.type(sel('auth-username'), username)
  await page.type(sel('auth-password'), password)
  await page.click(sel('auth-login'))
  await page.waitForSelector('[data-testid=app][data-synced=true]:not([hidden])', { timeout: STEP_TIMEOUT })
}

/** Creates a room from the sidebar's form; resolves to its room ID once it is open. */
export async function createRoom (page, { name, topic, isPublic = false }) {
  await backToList(page)
  await page.click(sel('new-room-open'))
  await page.waitForSelector('[data-testid=new-room]:not([hidden])')
  await page.type(sel('new-room-name'), name)
  if (topic) await page.type(sel('new-room-topic'), topic)
  await page.click(sel(isPublic ? 'new-room-public' : 'new-room-private'))
  await page.click(sel('new-room-create'))
  await page.waitForFunction((n) => document.querySelector('[data-testid=room-title]').textContent === n &&
    document.querySelector('[data-testid=new-room]').hidden, { timeout: STEP_TIMEOUT }, name)
  return page.$eval(sel('room-title'), (e) => e.dataset.roomId)
}

/** At phone width, the room list is behind the "Rooms" button. */
export async function backToList (page) {
  const view = await page.$eval(sel('app'), (e) => e.dataset.view)
  const back = await page.$eval(sel('back'), (e) => getComputedStyle(e).display !== 'none')
  if (view === 'room' && back) await page.click(sel('back'))
}

/** Opens a room by its name in the room list (one in-page click: a re-render cannot detach it in between). */
export async function openRoom (page, name) {
  await backToList(page)
  await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid=room-item-name]')].some((e) => e.textContent === n),
    { timeout: STEP_TIMEOUT }, name)
  await page.evaluate((n) => {
    const item = [...document.querySelectorAll('[data-testid=room-item-name]')].find((e) => e.textContent === n)
    item.closest('button').click()
  }, name)
  await page.waitForFunction((n) => document.querySelector('[data-testid=room-title]').textContent === n, { timeout: STEP_TIMEOUT }, name)
}

/** Types a message into the composer and presses Enter. */
export async function send (page, text) {
  await page.type(sel('composer-input'), text)
  await page.keyboard.press('Enter')
}

/** Waits until the open room's timeline shows exactly these sent messages (in order). */
export async function waitForMessages (page, texts, { timeout = STEP_TIMEOUT } = {}) {
  try {
    await page.waitForFunction((want) => {
      const got = [...document.querySelectorAll('[data-testid=timeline] [data-testid=message][data-pending=false] [data-testid=message-body]')]
        .map((e) => e.textContent)
      return JSON.stringify(got) === JSON.stringify(want)
    }, { timeout }, texts)
  } catch (err) {
    throw new Error(`timeline shows ${JSON.stringify(await timelineText(page))}, want ${JSON.stringify(texts)}: ${err.message}`)
  }
}

export function timelineText (page) {
  return page.$$eval('[data-testid=timeline] [data-testid=message]', (els) => els.map((e) =>
    `${e.dataset.pending === 'true' ? '(pending) ' : ''}${e.dataset.failed === 'true' ? '(failed) ' : ''}${e.querySelector('[data-testid=message-body]').textContent}`))
}

/** The unread count the room list shows for a room name (0 when no badge). */
export function unreadCount (page, name) {
  return page.evaluate((n) => {
    const item = [...document.querySelectorAll('[data-testid=room-item-name]')].find((e) => e.textContent === n)
    return item ? Number(item.closest('button').dataset.unread) : null
  }, name)
}

/** Types lines into the composer with Shift+Enter between them (a multi-line message), then Enter sends. */
export async function sendLines (page, lines) {
  for (const [i, line] of lines.entries()) {
    if (i > 0) {
      await page.keyboard.down('Shift')
      await page.keyboard.press('Enter')
      await page.keyboard.up('Shift')
    }
    await page.type(sel('composer-input'), line)
  }
  await page.keyboard.press('Enter')
}

/** The access token of the session the page saved last (call it right after that sign-up). */
export function savedToken (page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('hearth.session')).accessToken)
}

/**
 * Sends an event through the client API, as the session saved last or as
 * `token`: for content the composer cannot make (another client's HTML), or
 * for speed. Not a person's step.
 */
export function sendRaw (page, roomId, content, { type = 'm.room.message', token } = {}) {
  return page.evaluate(async (roomId, type, content, token) => {
    token ??= JSON.parse(localStorage.getItem('hearth.session')).accessToken
    const res = await fetch(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/raw-${Math.random()}`, {
      method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(content)
    })
    if (!res.ok) throw new Error(`send: HTTP ${res.status} ${await res.text()}`)
    return (await res.json()).event_id
  }, roomId, type, content, token)
}

/**
 * page.click(selector), again when a redraw replaced the element between
 * puppeteer finding it and clicking it (a receipt or delivery update redraws
 * a message): such a click never reached the page, so trying again is safe.
 */
export async function clickRedrawn (page, selector) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await page.click(selector)
    } catch (err) {
      if (attempt >= 3 || !/detached/i.test(err.message)) throw err
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/**
 * Clicks, in order, controls inside the last message whose text starts with
 * `text` (selectors within it), hovering the message first, as a mouse user
 * does, since its actions show on hover. A redraw between the clicks (a
 * delivery or receipt update rebuilds the message, closing its picker or the
 * delete button's confirmation) starts them over on the new message.
 */
export async function clickInMessage (page, text, selectors, { attempts = 6 } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      const li = await page.evaluateHandle((t) => [...document.querySelectorAll('[data-testid=timeline] [data-testid=message]')]
        .filter((m) => m.querySelector('[data-testid=message-body]').textContent.startsWith(t)).at(-1), text)
      await li.hover()
      for (const selector of selectors) await (await li.$(selector)).click()
      return
    } catch (err) {
      if (attempt >= attempts) throw err
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/**
 * Clicks one of a message's actions (message-reply, message-react, message-edit,
 * message-thread, or a reaction by key) on the last message whose text starts with `text`.
 */
export function messageAction (page, text, testid, key) {
  return clickInMessage(page, text, [key ? `[data-testid=${testid}][data-key="${key}"]` : `[data-testid=${testid}]`])
}

/** Reacts to a message with `key` through its React button and the picker, as one step. */
export function reactTo (page, text, key) {
  return clickInMessage(page, text, ['[data-testid=message-react]', `[data-testid=reaction-choice][data-key="${key}"]`])
}

/**
 * Deletes one's own message: Delete, then its confirmation, as one step, until
 * the message shows as deleted. A redraw between computing the confirmation's
 * place and clicking there lands the click on the redrawn Delete, which only
 * asks again: nothing fails, and nothing is deleted.
 */
export async function deleteMessage (page, text, { attempts = 3 } = {}) {
  for (let attempt = 1; ; attempt++) {
    await clickInMessage(page, text, ['[data-testid=message-delete]', '[data-testid=message-delete][data-confirm=true]'])
    try {
      await page.waitForFunction((t) => ![...document.querySelectorAll('[data-testid=timeline] [data-testid=message]')]
        .some((m) => !m.classList.contains('redacted') && m.querySelector('[data-testid=message-body]').textContent.startsWith(t)),
      { timeout: 3000 }, text)
      return
    } catch (err) {
      if (attempt >= attempts) throw new Error(`"${text}" was not deleted after ${attempts} tries: ${err.message}`)
    }
  }
}

/** Waits until the message whose text starts with `text` satisfies fn(li) (run in the page). */
export async function waitForMessage (page, text, fn, { timeout = STEP_TIMEOUT } = {}) {
  await page.waitForFunction((t, src) => {
    const li = [...document.querySelectorAll('[data-testid=timeline] [data-testid=message]')]
      .filter((m) => m.querySelector('[data-testid=message-body]').textContent.startsWith(t)).at(-1)
    return li && (0, eval)(src)(li)
  }, { timeout }, text, fn.toString())
}

/**
 * Brings a tab to the front and returns it. Of several tabs in one window only
 * the front one renders (waitForFunction polls on animation frames), so each
 * person's turn starts with this.
 */
export async function front (page) {
  await page.bringToFront()
  return page
}

/**
 * A tab for one more person on this browser's server: it starts signed out
 * (the saved session is whoever signed up last) and keeps its own session in
 * memory. A tab opened later with env.newPage() finds the saved session.
 */
export async function personTab (env) {
  const page = await env.newPage()
  await page.evaluateOnNewDocument(() => localStorage.removeItem('hearth.session'))
  return page
}

/** The inviter invites userId to the room open in its tab; the invitee accepts it in theirs and sees it open. */
export async function inviteAndAccept (inviter, invitee, userId, roomName) {
  await (await front(inviter)).click(sel('invite-open'))
  await inviter.type(sel('invite-user'), userId)
  await inviter.click(sel('invite-send'))
  await (await front(invitee)).waitForSelector('[data-testid=invite-accept]', { timeout: STEP_TIMEOUT })
  await invitee.click(sel('invite-accept'))
  await invitee.waitForFunction((n) => document.querySelector('[data-testid=room-title]').textContent === n, { timeout: STEP_TIMEOUT }, roomName)
}

/**
 * Exports a backup from the open client (Back up…, the passphrase twice) and
 * waits until the page says the file is written; where it lands is the
 * browser's download set-up.
 */
export async function exportBackup (page, passphrase) {
  await page.click(sel('backup-open'))
  await page.type(sel('backup-passphrase'), passphrase)
  await page.type(sel('backup-passphrase-again'), passphrase)
  await page.click(sel('backup-export-start'))
  await page.waitForSelector('[data-testid=backup-export-status][data-done=true]', { timeout: STEP_TIMEOUT })
}

/** Waits for the one finished *.hearth-backup file in dir (a download) and returns its path. */
export async function downloadedBackup (dir) {
  const deadline = Date.now() + STEP_TIMEOUT
  let lastSize = -1
  for (;;) {
    const names = await readdir(dir)
    const files = names.filter(n => n.endsWith('.hearth-backup'))
    // Firefox creates the file under its final name when the download starts
    // and writes into a .part file beside it until the end (Chromium names it
    // .crdownload until then): the download is done when no partial file is
    // left and the size held still for a poll.
    const partial = names.some(n => n.endsWith('.part') || n.endsWith('.crdownload'))
    if (files.length === 1 && !partial) {
      const { size } = await stat(join(dir, files[0]))
      if (size > 0 && size === lastSize) return join(dir, files[0])
      lastSize = size
    }
    if (Date.now() > deadline) throw new Error(`no complete download in ${dir}: ${names}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
