import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isNewerStatus } from './protocol.js'

test('a status arriving late from the same worker life is dropped', () => {
  const downloading = { phase: 'downloading', life: 100, seq: 2 }
  const failed = { phase: 'failed', life: 100, seq: 4 }
  assert.equal(isNewerStatus(null, downloading), true)
  assert.equal(isNewerStatus(downloading, failed), true)
  assert.equal(isNewerStatus(failed, downloading), false)
  assert.equal(isNewerStatus(failed, failed), false)
})

test('any status of a later worker life wins, whatever its count', () => {
  const old = { phase: 'ready', life: 100, seq: 40 }
  const restarted = { phase: 'downloading', life: 200, seq: 1 }
  assert.equal(isNewerStatus(old, restarted), true)
  assert.equal(isNewerStatus(restarted, old), false)
})
