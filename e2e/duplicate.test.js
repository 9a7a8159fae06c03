/**
 * Move, not copy, in the browser: a headless peer's backup imported into a
 * browser while that peer still runs. The browser's server finds its own
 * peer ID already on the relay and stays offline; the client says why (and
 * how to stop the other copy). The peer is undisturbed.
 *
 * Run `npm run build` first.
 */
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openBrowser, siteWithConfig } from './browser.js'
import { steps } from './steps.js'
import { createRelay } from '../js/relay/index.js'
import { BOOT_TIMEOUT, STEP_TIMEOUT, openSite } from './ui.js'
import { ok, register, spawnPeer, tempRoot } from '../js/peer/harness.js'

const PASSPHRASE = 'one server, one place'
const cli = fileURLToPath(new URL('../js/peer/cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../', import.meta.url))
const sel = (id) => `[data-testid=${id}]`
const quiet = { log () {}, info () {}, warn () {} }

test('a second live copy in a browser stays offline and says why; the first is undisturbed', { timeout: 240000 }, async (t) => {
  const { root, stopLater } = await tempRoot(t, 'hearth-e2e-duplicate-')
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  stopLater(() => relay.stop())
  const relayAddr = relay.multiaddrs()[0]
  const siteDir = await siteWithConfig({ relay: relayAddr, debug: null })
  t.after(() => rm(siteDir, { recursive: true, force: true }))
  const env = await openBrowser({ name: 'duplicate', dir: siteDir })
  t.after(() => env.close())
  const { run, explain } = steps(t, [env])
  let page, peer, token
  try {
    await run('a headless peer is backed up and keeps running', async () => {
      const dir = join(root, 'peer')
      peer = await spawnPeer(dir)
      token = await register(peer, 'twin')
      await peer.stop()
      const file = join(root, 'twin.hearth-backup')
      const exported = await new Promise(resolve => execFile(process.execPath, [cli, '--data', dir, '--export', file], {
        cwd: repo, env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: PASSPHRASE }
      }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr })))
      assert.equal(exported.code, 0, exported.output)
      peer = await spawnPeer(dir, ['--relay', relayAddr])
      stopLater(() => peer.stop())
      const deadline = Date.now() + STEP_TIMEOUT
      while (!relay.present().includes(peer.serverName)) {
        assert.ok(Date.now() < deadline, 'the peer never reached the relay')
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      page = await env.newPage()
      await openSite(page, env.site.url)
      await page.click(sel('auth-import'))
      await (await page.waitForSelector(sel('backup-file'))).uploadFile(file)
      await page.type(sel('backup-import-passphrase'), PASSPHRASE)
      await page.click(sel('backup-import-start'))
    })

    await run('the imported server stays offline, and the client says why', async () => {
      await page.waitForNavigation({ timeout: STEP_TIMEOUT }).catch(() => {})
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await page.waitForSelector('[data-testid=network][data-state=duplicate]', { timeout: STEP_TIMEOUT })
      const text = await page.$eval(sel('network'), e => e.textContent)
      assert.match(text, /another copy of this server/i)
      assert.match(text, /Stop the other copy/)
      assert.match(await page.$eval(sel('peer-id'), e => e.textContent), new RegExp(peer.serverName))
    })

    await run('the headless peer is undisturbed: still on the relay, still serving', async () => {
      assert.deepEqual(relay.present().filter(p => p === peer.serverName), [peer.serverName])
      assert.equal((await ok(peer, 'GET', '/_matrix/client/v3/account/whoami', { token })).user_id, `@twin:${peer.serverName}`)
    })
  } catch (err) {
    throw await explain(err, [{ label: 'page', env, page, screenshot: 'duplicate.png' }])
  }
})
