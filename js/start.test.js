/**
 * `npm start` as a deployer runs it (node js/start.js in its own process): the
 * site and the relay come up, config.json carries a relay address peers can
 * actually meet on, the address survives a restart, and a relay the deployer
 * set in config.json is left alone.
 */
import './p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createP2P } from './p2p/index.js'

const start = fileURLToPath(new URL('./start.js', import.meta.url))
const template = fileURLToPath(new URL('./page/config.json', import.meta.url))

async function runStart (env) {
  const child = spawn(process.execPath, [start], {
    env: { ...process.env, PORT: '0', RELAY_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', chunk => { output += chunk })
  child.stderr.on('data', chunk => { output += chunk })
  const exited = new Promise(resolve => child.once('exit', resolve))
  const deadline = Date.now() + 15_000
  while (!/Hearth is served at (\S+)/.test(output)) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`)
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`npm start did not come up:\n${output}`) }
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  return {
    url: output.match(/Hearth is served at (\S+)/)[1],
    relayPort: Number(output.match(/relay: listening on port (\d+)/)[1]),
    output: () => output,
    stop: async () => { child.kill('SIGTERM'); return exited }
  }
}

async function config (url) {
  const res = await fetch(new URL('config.json', url))
  assert.equal(res.status, 200)
  return res.json()
}

test('npm start runs the site and a relay; config.json names a relay peers meet on, stable across restarts', { timeout: 60_000 }, async (t) => {
  const site = await mkdtemp(join(tmpdir(), 'hearth-start-site-'))
  const state = await mkdtemp(join(tmpdir(), 'hearth-start-state-'))
  t.after(() => Promise.all([site, state].map(dir => rm(dir, { recursive: true, force: true }))))
  await writeFile(join(site, 'index.html'), '<!doctype html><title>Hearth</title>')
  await copyFile(template, join(site, 'config.json'))
  const env = { HEARTH_SITE_DIR: site, HEARTH_STATE_DIR: state }

  const first = await runStart(env)
  let relay
  try {
    relay = (await config(first.url)).relay
    assert.match(relay, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/${first.relayPort}/ws/p2p/12D3KooW\\w+$`))
    assert.match(first.output(), /relay: listening on port \d+/)

    // Two peers given only that address find each other and federate through it.
    const serve = async (head, body) => ({ status: 200, headers: [['x-url', head.url]], body })
    const peers = await Promise.all([0, 1].map(async () =>
      createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: [relay], serve })))
    try {
      await Promise.all(peers.map(p => p.start()))
      await peers[0].waitForPeer(peers[1].peerId, { signal: AbortSignal.timeout(5000) })
      const res = await peers[0].roundTrip(peers[1].peerId, {
        head: JSON.stringify({ method: 'GET', url: '/_matrix/federation/v1/version', headers: [] }), body: null
      })
      assert.equal(JSON.parse(res.head).status, 200)
    } finally {
      await Promise.allSettled(peers.map(p => p.stop()))
    }
  } finally {
    await first.stop()
  }

  // Restarted (on another port here, as RELAY_PORT=0): same relay identity, address updated.
  const second = await runStart(env)
  try {
    const again = (await config(second.url)).relay
    assert.equal(again.split('/p2p/')[1], relay.split('/p2p/')[1], 'the relay peer ID changed across restarts')
    assert.match(again, new RegExp(`/tcp/${second.relayPort}/ws/`))
  } finally {
    await second.stop()
  }

  // A deployer's relay is never overwritten.
  const deployed = '/dns4/relay.example.org/tcp/443/wss/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'
  const edited = JSON.parse(await readFile(join(site, 'config.json'), 'utf8'))
  await writeFile(join(site, 'config.json'), JSON.stringify({ ...edited, relay: deployed }))
  const third = await runStart(env)
  try {
    assert.equal((await config(third.url)).relay, deployed)
    assert.match(third.output(), /set in .*config\.json, not this one/)
  } finally {
    await third.stop()
  }
})
