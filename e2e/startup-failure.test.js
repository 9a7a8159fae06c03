/**
 * A server that cannot start is shown as such, and Matrix requests get a
 * 503 M_UNKNOWN with the reason instead of hanging.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBrowser, diagnose, DIST, ARTIFACTS } from './browser.js'

test('a broken hearth.wasm: the page says why, /_matrix answers 503', { timeout: 120000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-broken-dist-'))
  await cp(DIST, dir, { recursive: true })
  await writeFile(join(dir, 'hearth.wasm'), 'this is not wasm')
  const env = await openBrowser({ name: 'startup-failure', dir })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  try {
    page = await env.newPage()
    await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
    await page.waitForSelector('[data-testid=server-status][data-phase=failed]', { timeout: 60000 })
    const error = await page.$eval('[data-testid=startup-error]', (e) => ({ hidden: e.hidden, text: e.textContent }))
    assert.equal(error.hidden, false)
    assert.match(error.text, /compile/i)
    assert.equal(await page.$eval('[data-testid=startup-retry]', (e) => e.hidden), false)
    await page.screenshot({ path: join(ARTIFACTS, 'startup-failure.png') })

    const res = await page.evaluate(async () => {
      const r = await fetch('/_matrix/client/v3/login', { signal: AbortSignal.timeout(10000) })
      return { status: r.status, type: r.headers.get('content-type'), body: await r.json() }
    })
    assert.equal(res.status, 503)
    assert.match(res.type, /^application\/json/)
    assert.equal(res.body.errcode, 'M_UNKNOWN')
    assert.match(res.body.error, /compile/i)

    // Non-Matrix paths still go to the network.
    const other = await page.evaluate(async () => (await fetch('/config.json')).status)
    assert.equal(other, 200)
  } catch (err) {
    err.message += `\n--- status ---\n${await diagnose(page)}\n--- console ---\n${env.logs.join('\n')}`
    throw err
  } finally {
    await env.close()
    await rm(dir, { recursive: true, force: true })
  }
})
