import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createStorage } from './index.js'
import { rows as query } from './testkit.js'

const WRITER = fileURLToPath(new URL('./crash-writer.js', import.meta.url))
const ROUNDS = 50

/**
 * Starts the writer and returns the ids it acknowledged before it died by
 * SIGKILL: sent by us killAfterMs after its first acknowledgement, or (with
 * step) sent by itself when a snapshot reaches that step (crash-writer.js).
 */
function runAndKill (dir, killAfterMs, step = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, ...step], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { err += d })
    // Count time from the first acknowledgement, so every kill lands while writing.
    let timer = null
    if (killAfterMs !== null) child.stdout.once('data', () => { timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs) })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited by itself (${code}): ${err}`))
      const acked = out.split('\n').filter(l => /^ack \d+$/.test(l)).map(l => Number(l.slice(4)))
      resolve(acked)
    })
  })
}

/** Opens the store and checks that every acknowledged id is there and the database is sound. */
async function checkSurvived (dir, acked, what) {
  const s = await createStorage({ persistence: 'file', dir, name: 'crash' })
  const ids = new Set(query(s.storage, 'SELECT id FROM acked').map(r => Number(r[0])))
  const missing = [...acked].filter(id => !ids.has(id))
  assert.deepEqual(missing, [], `${what}: acknowledged writes lost`)
  assert.deepEqual(query(s.storage, 'PRAGMA integrity_check'), [['ok']], what)
  await s.close()
}

async function inTempDir (fn) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-crash-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test(`every acknowledged write survives ${ROUNDS} SIGKILLs`, { timeout: 120_000 }, async () => {
  await inTempDir(async dir => {
    const acked = new Set()
    for (let round = 0; round < ROUNDS; round++) {
      for (const id of await runAndKill(dir, Math.floor(Math.random() * 400))) acked.add(id)
      await checkSurvived(dir, acked, `round ${round}`)
    }
    assert.ok(acked.size > ROUNDS, `only ${acked.size} writes were acknowledged`)
  })
})

// Each step of writing a snapshot (file-persistence.js), killed exactly there,
// twice: early, and after a few snapshots (so chunks of several generations exist).
const SNAPSHOT_STEPS = ['chunk-written', 'chunks-durable', 'manifest-durable', 'cleaned']

test('a SIGKILL at each step of writing a snapshot loses nothing acknowledged', { timeout: 60_000 }, async () => {
  for (const step of SNAPSHOT_STEPS) {
    await inTempDir(async dir => {
      const acked = new Set()
      for (const nth of [2, 7]) {
        const ids = await runAndKill(dir, null, [step, String(nth)])
        for (const id of ids) acked.add(id)
        await checkSurvived(dir, acked, `killed at ${step} #${nth}`)
      }
      assert.ok(acked.size > 0, `${step}: nothing was acknowledged`)
    })
  }
})
