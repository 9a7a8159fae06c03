import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createStorage } from './index.js'
import { encodeParams, decodeResult } from './codec.js'

const WRITER = fileURLToPath(new URL('./crash-writer.js', import.meta.url))
const ROUNDS = 50

/** Starts the writer, kills it with SIGKILL after killAfterMs, returns the ids it acknowledged. */
function runAndKill (dir, killAfterMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { err += d })
    // Count time from the first acknowledgement, so every kill lands while writing.
    let timer = null
    child.stdout.once('data', () => { timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs) })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited by itself (${code}): ${err}`))
      const acked = out.split('\n').filter(l => /^ack \d+$/.test(l)).map(l => Number(l.slice(4)))
      resolve(acked)
    })
  })
}

test(`every acknowledged write survives ${ROUNDS} SIGKILLs`, { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-crash-'))
  try {
    const acked = new Set()
    for (let round = 0; round < ROUNDS; round++) {
      for (const id of await runAndKill(dir, Math.floor(Math.random() * 400))) acked.add(id)
      const s = await createStorage({ persistence: 'file', dir, name: 'crash' })
      const ids = new Set(query(s.storage, 'SELECT id FROM acked').map(r => Number(r[0])))
      const missing = [...acked].filter(id => !ids.has(id))
      assert.deepEqual(missing, [], `round ${round}: acknowledged writes lost`)
      assert.deepEqual(query(s.storage, 'PRAGMA integrity_check'), [['ok']], `round ${round}`)
      await s.close()
    }
    assert.ok(acked.size > ROUNDS, `only ${acked.size} writes were acknowledged`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

function query (storage, sql, params = []) {
  const res = storage.query(sql, params.length ? encodeParams(params) : null)
  if (!(res instanceof Uint8Array)) throw new Error(`${res.name}: ${res.message}`)
  return decodeResult(res).rows
}
