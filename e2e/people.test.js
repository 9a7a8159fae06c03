/**
 * People and rooms, through the client's controls: avatars (initials until a
 * picture is set), the profile screen (display name and picture), the member
 * list with power levels (an admin makes a member a moderator), and room
 * settings (name, topic, picture, who may join, the public list; leave and
 * forget).
 *
 * Run `npm run build` first; then `node --test e2e/people.test.js`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBrowser, ARTIFACTS } from './browser.js'
import { steps } from './steps.js'
import { STEP_TIMEOUT, openSite, register, createRoom, send, waitForMessages, waitForMessage, front, personTab, inviteAndAccept, backToList } from './ui.js'
import { png } from './images.js'

/** Chooses a file in a (visually hidden) file input. */
async function choose (page, testid, path) {
  const input = await page.$(`[data-testid=${testid}]`)
  await input.uploadFile(path)
  await input.evaluate((e) => e.dispatchEvent(new Event('change', { bubbles: true })))
}

/** Whether an avatar (by selector) shows a loaded picture. */
const pictureShown = (page, selector) => page.waitForFunction((s) => {
  const img = document.querySelector(`${s} img`)
  return img?.complete && img.naturalWidth > 0
}, { timeout: STEP_TIMEOUT }, selector)

test('avatars, profile, power levels, room settings, leave and forget', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'people' })
  const dir = await mkdtemp(join(tmpdir(), 'hearth-people-'))
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let pageA, pageB
  const { run, explain } = steps(t, [env])
  const shot = (page, file) => page.screenshot({ path: join(ARTIFACTS, file) })
  const password = 'people and rooms'
  const face = join(dir, 'face.png')
  const banner = join(dir, 'banner.png')
  await writeFile(face, png(300, 200))
  await writeFile(banner, png(120, 120))

  try {
    pageA = await env.newPage()
    pageB = await personTab(env)
    let bob, alice
    await run('Alice and Bob sign up and meet in a room: their avatars are initials', async () => {
      await openSite(await front(pageA), env.site.url)
      alice = await register(await front(pageA), 'Alice', password)
      await openSite(await front(pageB), env.site.url)
      bob = await register(await front(pageB), 'Bob', password)
      await createRoom(await front(pageA), { name: 'Club' })
      await inviteAndAccept(pageA, pageB, bob, 'Club')
      await send(await front(pageA), 'welcome')
      await waitForMessages(await front(pageB), ['welcome'])
      const avatar = await pageB.$eval('[data-testid=timeline] [data-testid=message] [data-testid=avatar]', (e) => [e.textContent, e.dataset.image])
      assert.deepEqual(avatar, ['A', 'false'])
    })

    await run('Alice changes her display name and picture on the profile screen; Bob sees both', async () => {
      const page = await front(pageA)
      await page.click('[data-testid=profile-open]')
      await page.waitForSelector('[data-testid=profile][open]')
      assert.equal(await page.$eval('[data-testid=profile-name]', (e) => e.value), 'Alice')
      await page.$eval('[data-testid=profile-name]', (e) => e.select())
      await page.type('[data-testid=profile-name]', 'Alice Liddell')
      await choose(page, 'profile-avatar-file', face)
      await pictureShown(page, '[data-testid=profile-avatar]')
      await page.click('[data-testid=profile-save]')
      await page.waitForFunction(() => document.querySelector('[data-testid=profile-status]').textContent === 'Saved', { timeout: STEP_TIMEOUT })
      await shot(page, 'people-1-profile.png')
      await page.click('[data-testid=profile-close]')
      await page.waitForFunction(() => document.querySelector('[data-testid=whoami]').textContent.startsWith('Alice Liddell ('), { timeout: STEP_TIMEOUT })
      const other = await front(pageB)
      await waitForMessage(other, 'welcome', (li) => li.querySelector('[data-testid=message-sender]').textContent === 'Alice Liddell' &&
        li.querySelector('[data-testid=avatar][data-image=true] img'))
      await pictureShown(other, '[data-testid=timeline] [data-testid=message] [data-testid=avatar]')
      // A square thumbnail, cropped to fill (the picture is 300×200).
      const src = await other.$eval('[data-testid=timeline] [data-testid=message] [data-testid=avatar] img', (e) => [e.getAttribute('src'), e.naturalWidth, e.naturalHeight])
      assert.match(src[0], /method=crop/)
      assert.equal(src[1], src[2])
    })

    await run('The member list shows power levels; Alice (admin) makes Bob a moderator', async () => {
      const page = await front(pageA)
      await page.click('[data-testid=members-toggle]')
      await page.waitForSelector(`[data-testid=member][data-user-id="${bob}"] [data-testid=member-power]`)
      assert.equal(await page.$eval(`[data-testid=member][data-user-id="${alice}"]`, (e) => e.dataset.power), '100')
      await page.select(`[data-testid=member][data-user-id="${bob}"] [data-testid=member-power]`, '50')
      await page.waitForSelector(`[data-testid=member][data-user-id="${bob}"][data-power="50"]`, { timeout: STEP_TIMEOUT })
      await shot(page, 'people-2-members.png')
      const other = await front(pageB)
      await other.click('[data-testid=members-toggle]')
      await other.waitForSelector(`[data-testid=member][data-user-id="${bob}"][data-power="50"]`, { timeout: STEP_TIMEOUT })
      // Bob may not change Alice (above him): her role is text, not a choice.
      assert.equal(await other.$eval(`[data-testid=member][data-user-id="${alice}"] [data-testid=member-role]`, (e) => e.textContent), 'Admin')
      assert.equal(await other.$(`[data-testid=member][data-user-id="${alice}"] [data-testid=member-power]`), null)
    })

    await run('Alice renames the room, sets its topic and picture, opens it to anyone and lists it', async () => {
      const page = await front(pageA)
      await page.click('[data-testid=settings-open]')
      await page.waitForSelector('[data-testid=settings][open]')
      assert.equal(await page.$eval('[data-testid=settings-name]', (e) => e.value), 'Club')
      assert.equal(await page.$eval('[data-testid=settings-invite]', (e) => e.checked), true)
      await page.$eval('[data-testid=settings-name]', (e) => e.select())
      await page.type('[data-testid=settings-name]', 'Book club')
      await page.type('[data-testid=settings-topic]', 'One book a month')
      await choose(page, 'settings-avatar-file', banner)
      await page.click('[data-testid=settings-public]')
      await page.click('[data-testid=settings-published]')
      await page.click('[data-testid=settings-save]')
      await page.waitForFunction(() => document.querySelector('[data-testid=settings-status]').textContent === 'Saved', { timeout: STEP_TIMEOUT })
      await shot(page, 'people-3-settings.png')
      await page.click('[data-testid=settings-close]')
      const other = await front(pageB)
      await other.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'Book club' &&
        document.querySelector('[data-testid=room-topic]').textContent === 'One book a month', { timeout: STEP_TIMEOUT })
      await pictureShown(other, '[data-testid=room-avatar]')
      await pictureShown(other, '[data-testid=room-item]')
      await other.waitForFunction(() => [...document.querySelectorAll('[data-testid=notice]')].some((n) => n.textContent.includes('made the room public')), { timeout: STEP_TIMEOUT })
      await shot(other, 'people-4-room-seen-by-bob.png')
      await backToList(other)
      await other.click('[data-testid=directory-open]')
      await other.waitForFunction(() => [...document.querySelectorAll('[data-testid=public-room-name]')].some((n) => n.textContent === 'Book club'), { timeout: STEP_TIMEOUT })
      await other.click('[data-testid=directory-close]')
    })

    await run('Bob leaves and forgets the room from its settings: it is gone from his list', async () => {
      const page = await front(pageB)
      await page.click('[data-testid=settings-open]')
      await page.waitForSelector('[data-testid=settings][open]')
      await page.click('[data-testid=settings-forget]')
      await page.click('[data-testid=settings-forget][data-confirm=true]')
      await page.waitForSelector('[data-testid=settings]:not([open])', { timeout: STEP_TIMEOUT })
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=room-item]').length === 0, { timeout: STEP_TIMEOUT })
      await (await front(pageA)).waitForFunction(() => [...document.querySelectorAll('[data-testid=notice]')].some((n) => n.textContent.includes('Bob left')), { timeout: STEP_TIMEOUT })
      // Still gone after the next syncs.
      await (await front(pageB)).waitForFunction(() => document.querySelectorAll('[data-testid=room-item]').length === 0, { timeout: STEP_TIMEOUT })
      await shot(pageB, 'people-5-forgotten.png')
    })
  } catch (err) {
    throw await explain(err, [
      { label: 'Alice', env, page: pageA, screenshot: 'people-failure-a.png' },
      { label: 'Bob', env, page: pageB, screenshot: 'people-failure-b.png' }
    ])
  } finally {
    await env.close()
    await rm(dir, { recursive: true, force: true })
  }
})
