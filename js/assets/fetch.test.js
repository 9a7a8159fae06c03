import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fetchImmutable } from './fetch.js'

/** Runs fn with globalThis.fetch answering statuses in turn; returns the calls' cache modes and the result. */
async function withStatuses (statuses, fn) {
  const realFetch = globalThis.fetch
  const modes = []
  globalThis.fetch = async (url, init) => {
    modes.push(init?.cache ?? 'default')
    return new Response(`#${modes.length}`, { status: statuses[modes.length - 1] })
  }
  try {
    const response = await fn()
    return { modes, body: await response.text(), status: response.status }
  } finally {
    globalThis.fetch = realFetch
  }
}

test('a content-addressed file is taken from the HTTP cache without revalidating', async () => {
  const r = await withStatuses([200], () => fetchImmutable('https://example.test/a.wasm?v=1', { credentials: 'same-origin' }))
  assert.deepEqual(r, { modes: ['force-cache'], body: '#1', status: 200 })
})

test('a failure the cache may have kept is asked for again past the cache', async () => {
  const fixed = await withStatuses([404, 200], () => fetchImmutable('https://example.test/a.wasm?v=1'))
  assert.deepEqual(fixed, { modes: ['force-cache', 'reload'], body: '#2', status: 200 })
  const missing = await withStatuses([404, 404], () => fetchImmutable('https://example.test/a.wasm?v=1'))
  assert.deepEqual(missing, { modes: ['force-cache', 'reload'], body: '#2', status: 404 })
})
