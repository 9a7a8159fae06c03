/**
 * Moving a server with a backup file, through the built-in client: export in
 * one Chromium profile (passphrase twice, progress, a download streamed from
 * the worker), the profile closed, import in a fresh profile ("I have a
 * backup" on the account form), and the same user logs in with the same
 * password to the same user ID, rooms, messages and media; a headless
 * neighbour in the room keeps talking with the moved server over the relay,
 * and what it sent while the server was between homes is caught up. A wrong
 * passphrase and a damaged file are refused and change nothing. The server
 * then moves on to an always-on headless peer, is used there over HTTP, and
 * moves back into a fresh browser: one format everywhere.
 *
 * Run `npm run build` first.
 */
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openBrowser, siteWithConfig } from './browser.js'
import { steps } from './steps.js'
import { BOOT_TIMEOUT, STEP_TIMEOUT, createRoom, downloadedBackup, exportBackup, logIn, openRoom, openSite, register, send, waitForMessages } from './ui.js'
import { createRelay } from '../js/relay/index.js'
import { call, ok, register as registerOnPeer, retry, say, spawnPeer, tempRoot, waitForMessage } from '../js/peer/harness.js'

const PASSPHRASE = 'moving my hearth elsewhere'
const PASSWORD = 'pass-word-123'
const cli = fileURLToPath(new URL('../js/peer/cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../', import.meta.url))
const sel = (id) => `[data-testid=${id}]`
const quiet = { log () {}, info () {}, warn () {} }
const PICTURE_BYTES = 3_000_000
/** Federation through the relay: discovery and the first dial take a while. */
const FEDERATION_TIMEOUT = 60000

async function until (what, fn, timeoutMs = STEP_TIMEOUT) {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

function runCli (args) {
  return new Promise(resolve => execFile(process.execPath, [cli, ...args], {
    cwd: repo, env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: PASSPHRASE }
  }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr })))
}

/** Exports from the open client into dir; resolves to the downloaded file's path and the URL it came from. */
async function exportFromClient (page, dir) {
  const cdp = await page.createCDPSession()
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir, eventsEnabled: true })
  const began = new Promise(resolve => cdp.once('Browser.downloadWillBegin', resolve))
  await exportBackup(page, PASSPHRASE)
  return { file: await downloadedBackup(dir), url: (await began).url }
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

test('a server moves by backup: browser → fresh browser (federation continues) → always-on headless peer → browser again', { timeout: 420000 }, async (t) => {
  // Browsers download and peers write into it: removed once they are closed and stopped.
  const { root: downloads, stopLater } = await tempRoot(t, 'hearth-e2e-backup-')
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  stopLater(() => relay.stop())
  const relayAddr = relay.multiaddrs()[0]
  const siteDir = await siteWithConfig({ relay: relayAddr, debug: null })
  t.after(() => rm(siteDir, { recursive: true, force: true }))
  const neighbour = await spawnPeer(join(downloads, 'neighbour'), ['--relay', relayAddr])
  stopLater(() => neighbour.stop())
  const neighbourToken = await registerOnPeer(neighbour, 'neighbour')
  const neighbourId = `@neighbour:${neighbour.serverName}`

  const first = await openBrowser({ name: 'backup-a', dir: siteDir })
  let second = null
  stopLater(() => first.close())
  stopLater(() => second?.close())
  const { run, explain } = steps(t, [first])
  let page, userId, serverName, file, roomId, picture
  try {
    await run('register, make a room with a headless neighbour, write two messages, upload 3 MB of media', async () => {
      page = await first.newPage()
      await openSite(page, first.site.url)
      userId = await register(page, 'Mover', PASSWORD)
      serverName = userId.split(':')[1]
      roomId = await createRoom(page, { name: 'Boxes' })
      await page.click(sel('invite-open'))
      await page.type(sel('invite-user'), neighbourId)
      await page.click(sel('invite-send'))
      await page.waitForSelector('[data-testid=invite-form]', { hidden: true, timeout: FEDERATION_TIMEOUT })
      await retry('the neighbour joins', () => call(neighbour, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${serverName}`, { token: neighbourToken, body: {} }), FEDERATION_TIMEOUT)
      await send(page, 'first box')
      await send(page, 'second box')
      await waitForMessages(page, ['first box', 'second box'])
      await waitForMessage(neighbour, neighbourToken, roomId, 'second box', FEDERATION_TIMEOUT)
      // 3 MB of media: the file is several encrypted chunks, so the download streams with backpressure.
      picture = await page.evaluate(async (bytes) => {
        const body = new Uint8Array(bytes).map((_, i) => (i * 131 + (i >> 11)) & 0xff)
        const token = JSON.parse(localStorage.getItem('hearth.session')).accessToken
        const res = await fetch('/_matrix/media/v3/upload?filename=crate.bin', {
          method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body
        })
        const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', body))).join(',')
        return { uri: (await res.json()).content_uri, digest }
      }, PICTURE_BYTES)
      assert.match(picture.uri ?? '', /^mxc:/)
    })

    await run('export a backup: the worker streams the file into the download', async () => {
      const saved = await exportFromClient(page, downloads)
      file = saved.file
      // The browser downloaded the worker's stream, not a Blob the page collected.
      assert.match(saved.url, /^http:\/\/127\.0\.0\.1:\d+\/_hearth\/backup\/download\/[0-9a-f]{32}$/)
      assert.match(basename(file), new RegExp(`^hearth-${serverName.slice(-8)}-\\d{4}-\\d\\d-\\d\\d\\.hearth-backup$`))
      // The export screen says the exported copy must not stay live once the file is imported.
      assert.match(await page.$eval(sel('backup-export-status'), e => e.textContent), /stop or wipe this copy/)
      const reminder = await page.$eval(sel('backup-reminder'), e => ({ ...e.dataset, text: e.textContent }))
      assert.ok(Number(reminder.lastExport) > 0, 'the client does not show when the last export was made')
      assert.doesNotMatch(reminder.text, /Last backup: never/)
      // Storage is fragile unless the browser promised to keep it: then the reminder says so.
      const persisted = await page.evaluate(() => navigator.storage.persisted())
      assert.equal(reminder.persisted, String(persisted))
      if (!persisted) assert.match(reminder.text, /has not promised to keep this server's data.*export a backup/)
      // A download link works once.
      const statuses = await page.evaluate(async (passphrase) => {
        const token = JSON.parse(localStorage.getItem('hearth.session')).accessToken
        const { url } = await (await fetch('/_hearth/backup/export', {
          method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ passphrase })
        })).json()
        const once = await fetch(url)
        await once.body.cancel()
        const twice = await fetch(url)
        return [once.status, twice.status, (await twice.json()).name]
      }, PASSPHRASE)
      assert.deepEqual(statuses, [200, 410, 'BackupLinkError'])
    })

    await run('the first browser is closed: its server leaves the relay (a move, not a copy)', async () => {
      await first.close()
      await until('the closed browser\'s server left the relay', () => !relay.present().includes(serverName))
      // Sent while the server is between homes: the imported one catches up on it.
      await say(neighbour, neighbourToken, roomId, 'while you were moving')
    })

    second = await openBrowser({ name: 'backup-b', dir: siteDir })
    page = await second.newPage()
    await run('a wrong passphrase and a damaged file in a fresh profile are refused, and the fresh server is still there', async () => {
      await openSite(page, second.site.url)
      await importInClient(page, file, 'not my passphrase')
      await page.waitForSelector('[data-testid=backup-import-error]:not([hidden])', { timeout: STEP_TIMEOUT })
      assert.match(await page.$eval(sel('backup-import-error'), e => e.textContent), /wrong passphrase/)
      assert.equal(await page.$eval(sel('server-status'), e => e.dataset.phase), 'ready')
      const bytes = await readFile(file)
      const cut = join(downloads, 'cut.hearth-backup')
      await writeFile(cut, bytes.subarray(0, bytes.length - 100))
      await page.$eval(sel('backup-import-error'), e => { e.hidden = true })
      await importInClient(page, cut)
      await page.waitForSelector('[data-testid=backup-import-error]:not([hidden])', { timeout: STEP_TIMEOUT })
      assert.match(await page.$eval(sel('backup-import-error'), e => e.textContent), /damaged/)
      assert.equal(await page.$eval(sel('server-status'), e => e.dataset.phase), 'ready')
    })

    await run('import it: the same user logs in with the same password and finds the room, messages (and the one it missed) and media', async () => {
      await importInClient(page, file)
      // The page restarts the worker and reloads by itself.
      await page.waitForNavigation({ timeout: STEP_TIMEOUT }).catch(() => {})
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      const status = await page.evaluate(() => document.querySelector('[data-testid=server-status]').textContent)
      assert.ok(status.includes(serverName), `the imported server is not ${userId}'s: ${status}`)
      await logIn(page, 'mover', PASSWORD)
      assert.equal(await page.$eval(sel('my-user-id'), e => e.textContent), userId)
      await openRoom(page, 'Boxes')
      await waitForMessages(page, ['first box', 'second box', 'while you were moving'], { timeout: FEDERATION_TIMEOUT })
      const digest = await page.evaluate(async (uri) => {
        const token = JSON.parse(localStorage.getItem('hearth.session')).accessToken
        const res = await fetch(`/_matrix/client/v1/media/download/${uri.slice('mxc://'.length)}`, { headers: { authorization: `Bearer ${token}` } })
        return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await res.arrayBuffer()))).join(',')
      }, picture.uri)
      assert.equal(digest, picture.digest, 'the media did not survive the move')
    })

    await run('federation continues: the neighbour\'s message reaches the moved server, and its answer the neighbour', async () => {
      await say(neighbour, neighbourToken, roomId, 'welcome to the new place')
      await waitForMessages(page, ['first box', 'second box', 'while you were moving', 'welcome to the new place'], { timeout: FEDERATION_TIMEOUT })
      await send(page, 'unpacked')
      await waitForMessage(neighbour, neighbourToken, roomId, 'unpacked', FEDERATION_TIMEOUT)
    })

    const history = ['first box', 'second box', 'while you were moving', 'welcome to the new place', 'unpacked']
    let onPeer
    await run('to an always-on headless peer: the browser exports again and closes, the peer imports; a Matrix client uses it over HTTP', async () => {
      const again = join(downloads, 'again')
      await mkdir(again)
      const { file: toPeer } = await exportFromClient(page, again)
      await second.close()
      process.env.HEARTH_BACKUP_PASSPHRASE = PASSPHRASE
      onPeer = join(downloads, 'always-on')
      const peer = await spawnPeer(onPeer, ['--import', toPeer])
      try {
        assert.equal(`@mover:${peer.serverName}`, userId)
        const login = await ok(peer, 'POST', '/_matrix/client/v3/login', {
          body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'mover' }, password: PASSWORD }
        })
        const messages = await ok(peer, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, { token: login.access_token })
        assert.deepEqual(messages.chunk.filter(e => e.type === 'm.room.message').map(e => e.content.body).reverse(), history)
        await say(peer, login.access_token, roomId, 'from the always-on peer')
      } finally {
        await peer.stop()
        delete process.env.HEARTH_BACKUP_PASSPHRASE
      }
    })

    await run('and back: the headless peer\'s export is imported in a fresh browser, with everything', async () => {
      const back = join(downloads, 'back.hearth-backup')
      const exported = await runCli(['--data', onPeer, '--export', back])
      assert.equal(exported.code, 0, exported.output)
      second = await openBrowser({ name: 'backup-c', dir: siteDir })
      page = await second.newPage()
      await openSite(page, second.site.url)
      await importInClient(page, back)
      await page.waitForNavigation({ timeout: STEP_TIMEOUT }).catch(() => {})
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await logIn(page, 'mover', PASSWORD)
      assert.equal(await page.$eval(sel('my-user-id'), e => e.textContent), userId)
      await openRoom(page, 'Boxes')
      await waitForMessages(page, [...history, 'from the always-on peer'])
    })
  } catch (err) {
    throw await explain(err, [{ label: 'page', env: second ?? first, page, screenshot: 'backup.png' }])
  }
})
