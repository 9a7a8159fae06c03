/**
 * Moving a server with a backup file, through the built-in client: export in
 * one Chromium profile (passphrase twice, progress, a download), import in a
 * fresh profile ("I have a backup" on the account form), and the same user
 * logs in with the same password to the same user ID, rooms and messages. A
 * wrong passphrase is refused and changes nothing. The browser's file then
 * moves the server on to a headless peer, and a headless peer's file into a
 * browser: one format everywhere.
 *
 * Run `npm run build` first.
 */
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openBrowser } from './browser.js'
import { steps } from './steps.js'
import { BOOT_TIMEOUT, STEP_TIMEOUT, createRoom, logIn, openRoom, openSite, register, send, waitForMessages } from './ui.js'
import { ok, register as registerOnPeer, say, spawnPeer } from '../js/peer/harness.js'

const PASSPHRASE = 'moving my hearth elsewhere'
const PASSWORD = 'pass-word-123'
const cli = fileURLToPath(new URL('../js/peer/cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../', import.meta.url))
const sel = (id) => `[data-testid=${id}]`

function runCli (args) {
  return new Promise(resolve => execFile(process.execPath, [cli, ...args], {
    cwd: repo, env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: PASSPHRASE }
  }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr })))
}

/** Exports from the open client into dir; resolves to the downloaded file's path. */
async function exportFromClient (page, dir) {
  const cdp = await page.createCDPSession()
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir })
  await page.click(sel('backup-open'))
  await page.type(sel('backup-passphrase'), PASSPHRASE)
  await page.type(sel('backup-passphrase-again'), PASSPHRASE)
  await page.click(sel('backup-export-start'))
  await page.waitForSelector('[data-testid=backup-export-status][data-done=true]', { timeout: STEP_TIMEOUT })
  const deadline = Date.now() + STEP_TIMEOUT
  for (;;) {
    const files = (await readdir(dir)).filter(n => n.endsWith('.hearth-backup'))
    if (files.length === 1) return join(dir, files[0])
    if (Date.now() > deadline) throw new Error(`no download in ${dir}: ${await readdir(dir)}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** "I have a backup" on a first visit; resolves once the imported server is ready again. */
async function importInClient (page, file, passphrase = PASSPHRASE) {
  await page.click(sel('auth-import'))
  const input = await page.waitForSelector(sel('backup-file'))
  await input.uploadFile(file)
  await page.$eval(sel('backup-import-passphrase'), e => { e.value = '' })
  await page.type(sel('backup-import-passphrase'), passphrase)
  await page.click(sel('backup-import-start'))
}

test('a server moves by backup: browser → fresh browser → headless peer, and headless peer → browser', { timeout: 400000 }, async (t) => {
  const downloads = await mkdtemp(join(tmpdir(), 'hearth-e2e-backup-'))
  t.after(() => rm(downloads, { recursive: true, force: true }))
  const first = await openBrowser({ name: 'backup-a' })
  let second = null
  t.after(() => first.close())
  t.after(() => second?.close())
  const { run, explain } = steps(t, [first])
  let page, userId, file, roomId
  try {
    await run('register, make a room, write two messages, export a backup', async () => {
      page = await first.newPage()
      await openSite(page, first.site.url)
      userId = await register(page, 'Mover', PASSWORD)
      roomId = await createRoom(page, { name: 'Boxes' })
      await send(page, 'first box')
      await send(page, 'second box')
      await waitForMessages(page, ['first box', 'second box'])
      file = await exportFromClient(page, downloads)
      const reminder = await page.$eval(sel('backup-reminder'), e => e.dataset.lastExport)
      assert.ok(Number(reminder) > 0, 'the client does not show when the last export was made')
    })
    await first.close()

    second = await openBrowser({ name: 'backup-b' })
    page = await second.newPage()
    await run('a wrong passphrase in a fresh profile is refused, and the fresh server is still there', async () => {
      await openSite(page, second.site.url)
      await importInClient(page, file, 'not my passphrase')
      await page.waitForSelector('[data-testid=backup-import-error]:not([hidden])', { timeout: STEP_TIMEOUT })
      assert.match(await page.$eval(sel('backup-import-error'), e => e.textContent), /wrong passphrase/)
      assert.equal(await page.$eval(sel('server-status'), e => e.dataset.phase), 'ready')
    })

    await run('import it: the same user logs in with the same password and finds the room and messages', async () => {
      await importInClient(page, file)
      // The page restarts the worker and reloads by itself.
      await page.waitForNavigation({ timeout: STEP_TIMEOUT }).catch(() => {})
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      const serverName = await page.evaluate(() => document.querySelector('[data-testid=server-status]').textContent)
      assert.ok(serverName.includes(userId.split(':')[1]), `the imported server is not ${userId}'s: ${serverName}`)
      await logIn(page, 'mover', PASSWORD)
      assert.equal(await page.$eval(sel('my-user-id'), e => e.textContent), userId)
      await openRoom(page, 'Boxes')
      await waitForMessages(page, ['first box', 'second box'])
    })

    await run('the browser\'s file moves the server on to a headless peer', async () => {
      await second.close()
      process.env.HEARTH_BACKUP_PASSPHRASE = PASSPHRASE
      const peer = await spawnPeer(join(downloads, 'from-browser'), ['--import', file])
      try {
        assert.equal(`@mover:${peer.serverName}`, userId)
        const login = await ok(peer, 'POST', '/_matrix/client/v3/login', {
          body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'mover' }, password: PASSWORD }
        })
        const history = await ok(peer, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=20`, { token: login.access_token })
        assert.deepEqual(history.chunk.filter(e => e.type === 'm.room.message').map(e => e.content.body).reverse(), ['first box', 'second box'])
      } finally {
        await peer.stop()
        delete process.env.HEARTH_BACKUP_PASSPHRASE
      }
    })

    await run('a headless peer\'s file is imported in a fresh browser', async () => {
      const dir = join(downloads, 'peer')
      const peer = await spawnPeer(dir)
      const token = await registerOnPeer(peer, 'keeper')
      const peerRoom = (await ok(peer, 'POST', '/_matrix/client/v3/createRoom', { token, body: { name: 'Shed' } })).room_id
      await say(peer, token, peerRoom, 'from the peer')
      await peer.stop()
      const peerFile = join(downloads, 'peer.hearth-backup')
      const exported = await runCli(['--data', dir, '--export', peerFile])
      assert.equal(exported.code, 0, exported.output)
      second = await openBrowser({ name: 'backup-c' })
      page = await second.newPage()
      await openSite(page, second.site.url)
      await importInClient(page, peerFile)
      await page.waitForNavigation({ timeout: STEP_TIMEOUT }).catch(() => {})
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await logIn(page, 'keeper', 'secret')
      assert.equal(await page.$eval(sel('my-user-id'), e => e.textContent), `@keeper:${peer.serverName}`)
      await openRoom(page, 'Shed')
      await waitForMessages(page, ['from the peer'])
    })
  } catch (err) {
    throw await explain(err, [{ label: 'page', env: second ?? first, page, screenshot: 'backup.png' }])
  }
})
