/**
 * A picture uploaded through the client API from the page is downloaded back
 * byte for byte after the worker restarts, and its bytes live in the media
 * IndexedDB database (js/blobs), not in sql.js's database: no 64-byte run of
 * them is anywhere in the journal, snapshot or chunks.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openBrowser } from './browser.js'
import { steps } from './steps.js'
import { STEP_TIMEOUT, BOOT_TIMEOUT } from './ui.js'

/** Runs in the page: 512 KiB of deterministic noise, the "picture". */
function pictureInPage () {
  const bytes = new Uint8Array(512 << 10)
  let x = 0x2545f491
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

test('a picture uploaded from the page survives a worker restart, stored outside the SQL database', { timeout: 180000 }, async (t) => {
  const env = await openBrowser({ name: 'media' })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  const { run, explain } = steps(t, [env])
  let page
  let uploaded
  const ready = async () => {
    await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, { timeout: STEP_TIMEOUT })
  }
  try {
    await run('register and upload a picture through the client API, from the page', async () => {
      page = await env.newPage()
      await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
      await ready()
      uploaded = await page.evaluate(async (makePicture) => {
        const picture = new Function(`return (${makePicture})()`)() // eslint-disable-line no-new-func
        const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        const account = { username: `pic${Date.now().toString(36)}`, password: 'pass-word-123' }
        const { session } = await (await post('/_matrix/client/v3/register', account)).json()
        const reg = await (await post('/_matrix/client/v3/register', { ...account, auth: { type: 'm.login.dummy', session } })).json()
        const res = await fetch('/_matrix/media/v3/upload?filename=noise.png', {
          method: 'POST', body: picture, headers: { authorization: `Bearer ${reg.access_token}`, 'content-type': 'image/png' }
        })
        return { status: res.status, answer: await res.json(), token: reg.access_token }
      }, pictureInPage.toString())
      assert.equal(uploaded.status, 200, JSON.stringify(uploaded.answer))
      assert.match(uploaded.answer.content_uri, /^mxc:\/\//)
    })

    await run('the worker is stopped and boots again: the download is byte-exact', async () => {
      await env.stopWorkers(page)
      await page.reload({ waitUntil: 'domcontentloaded' })
      await ready()
      const same = await page.evaluate(async (makePicture, mxc, token) => {
        const picture = new Function(`return (${makePicture})()`)() // eslint-disable-line no-new-func
        const res = await fetch(`/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`, { headers: { authorization: `Bearer ${token}` } })
        const got = new Uint8Array(await res.arrayBuffer())
        return res.status === 200 && got.length === picture.length && got.every((b, i) => b === picture[i])
      }, pictureInPage.toString(), uploaded.answer.content_uri, uploaded.token)
      assert.ok(same, 'the picture came back different')
    })

    await run('its bytes are in the media database, and none of them in the SQL database', async () => {
      const found = await page.evaluate(async (makePicture, mediaId) => {
        const picture = new Function(`return (${makePicture})()`)() // eslint-disable-line no-new-func
        const marker = picture.subarray(4096, 4096 + 64)
        const open = name => new Promise((resolve, reject) => {
          const req = indexedDB.open(name)
          req.onsuccess = () => resolve(req.result)
          req.onerror = () => reject(req.error)
        })
        const all = (db, store) => new Promise((resolve, reject) => {
          const req = db.transaction(store).objectStore(store).getAll()
          req.onsuccess = () => resolve(req.result)
          req.onerror = () => reject(req.error)
        })
        const holdsMarker = (value) => {
          const bytes = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value)
          outer: for (let i = 0; i + marker.length <= bytes.length; i++) { // eslint-disable-line no-labels
            for (let j = 0; j < marker.length; j++) if (bytes[i + j] !== marker[j]) continue outer // eslint-disable-line no-labels
            return true
          }
          return false
        }
        const sql = await open('hearth')
        const inSQL = []
        let sqlValues = 0
        for (const store of sql.objectStoreNames) {
          for (const value of await all(sql, store)) {
            sqlValues++
            if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) { if (holdsMarker(value)) inSQL.push(store) }
          }
        }
        const media = await open('hearth-media')
        const blob = await new Promise((resolve, reject) => {
          const req = media.transaction('blobs').objectStore('blobs').get(`local/${mediaId}`)
          req.onsuccess = () => resolve(req.result)
          req.onerror = () => reject(req.error)
        })
        return { inSQL, sqlValues, blobBytes: blob?.byteLength ?? 0, blobHasMarker: blob !== undefined && holdsMarker(blob) }
      }, pictureInPage.toString(), uploaded.answer.content_uri.split('/').pop())
      t.diagnostic(`SQL database: ${found.sqlValues} values, none holding the picture; media blob ${found.blobBytes} bytes`)
      assert.ok(found.sqlValues > 0, 'the SQL database was not found')
      assert.deepEqual(found.inSQL, [], 'the SQL database holds the picture')
      assert.equal(found.blobBytes, 512 << 10)
      assert.ok(found.blobHasMarker)
    })
  } catch (err) {
    throw await explain(err, [{ label: 'browser', env, page, screenshot: 'media-storage-failure.png' }])
  } finally {
    await env.close()
  }
})
