/**
 * client: what the built-in client costs a person. First-visit bytes by part
 * (the page: index.html, page.js, style.css; the worker: sw.js; the wasm:
 * hearth.wasm, sql-wasm.wasm), raw and gzip; time to interactive on a first
 * visit (navigation start → the account form can be typed into, which waits
 * for the server in the worker); and the time to render a room of 500
 * messages (a click on the room → its 500 messages drawn, the next frame
 * painted).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSite } from '../js/site/serve.js'
import { launch, close } from './browser.js'
import { compressedSizes } from './size.js'
import { latencyRow, valueRow } from './rows.js'

const PARTS = {
  page: ['index.html', 'page.js', 'style.css'],
  worker: ['sw.js'],
  wasm: ['hearth.wasm', 'sql-wasm.wasm']
}
const MESSAGES = 500
const BOOT_TIMEOUT_MS = 90_000

export async function client ({ dist, quick, deadline }) {
  const rows = []
  for (const [part, files] of Object.entries(PARTS)) {
    const sizes = await Promise.all(files.map(async (f) => compressedSizes(await readFile(join(dist, f)), { brotliQuality: 9 })))
    for (const kind of ['raw', 'gzip']) {
      rows.push(valueRow(`client.first-visit.${part}.${kind}`, 'bytes', sizes.reduce((sum, s) => sum + s[kind], 0), { note: files.join(' ') }))
    }
  }

  const site = await startSite({ dir: dist, port: 0, host: '127.0.0.1' })
  const interactive = []
  const render = []
  try {
    for (let round = 0; round < (quick ? 1 : 2) && Date.now() < deadline - 60_000; round++) {
      const profile = await mkdtemp(join(tmpdir(), 'hearth-bench-client-'))
      const { browser, page } = await launch(profile, { network: false })
      try {
        await page.setViewport({ width: 1000, height: 760 })
        await page.goto(site.url, { waitUntil: 'domcontentloaded' })
        await page.waitForSelector('[data-testid=auth]:not([hidden]) [data-testid=auth-displayname]', { timeout: BOOT_TIMEOUT_MS, polling: 20 })
        interactive.push(await page.evaluate(() => performance.now()))
        if (round > 0) continue
        // A user, a room of 500 messages (sent through the API: the render is what is measured), and a second room.
        await page.type('[data-testid=auth-displayname]', 'Bench')
        await page.type('[data-testid=auth-password]', 'bench password')
        await page.click('[data-testid=auth-register]')
        await page.waitForSelector('[data-testid=app][data-synced=true]', { timeout: 30_000 })
        await page.evaluate(fillRooms, MESSAGES)
        const open = (name) => page.evaluate((n) => [...document.querySelectorAll('[data-testid=room-item-name]')].find((e) => e.textContent === n).closest('button').click(), name)
        await page.waitForFunction(() => document.querySelectorAll('[data-testid=room-item]').length === 2, { timeout: 30_000 })
        await open('five hundred')
        // Page back until all 500 are loaded (the client keeps up to 500 per room).
        await page.waitForFunction((n) => {
          const timeline = document.querySelector('[data-testid=timeline]')
          timeline.scrollTop = 0
          return timeline.querySelectorAll('[data-testid=message]').length >= n
        }, { timeout: 120_000, polling: 200 }, MESSAGES)
        for (let i = 0; i < (quick ? 3 : 10) && Date.now() < deadline - 20_000; i++) {
          await open('elsewhere')
          await page.waitForFunction(() => document.querySelector('[data-testid=room-title]').textContent === 'elsewhere')
          render.push(await page.evaluate(timeRoomOpen, 'five hundred', MESSAGES))
        }
      } finally {
        await close(browser)
        await rm(profile, { recursive: true, force: true }).catch(() => {})
      }
    }
  } finally {
    await site.close()
  }
  rows.push(latencyRow('client.first-visit.interactive', interactive, { note: 'fresh profile: navigation start → the account form can be typed into (the server in the worker is up)' }))
  rows.push(latencyRow(`client.render-room-${MESSAGES}`, render, { note: `a click on a room whose ${MESSAGES} loaded messages are drawn from scratch → drawn and the next frame painted` }))
  return rows
}

/** In the page: a room of n messages and an empty one, through the client API as the saved session. */
async function fillRooms (n) {
  const token = JSON.parse(localStorage.getItem('hearth.session')).accessToken
  const api = async (method, path, body) => {
    const res = await fetch(`/_matrix/client/v3${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
    return res.json()
  }
  const { room_id: roomId } = await api('POST', '/createRoom', { name: 'five hundred' })
  for (let i = 0; i < n; i++) {
    await api('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/b${i}`, {
      msgtype: 'm.text', body: `message ${i}: **some** text with a link https://example.org/${i}`, format: 'org.matrix.custom.html', formatted_body: `message ${i}: <strong>some</strong> text`
    })
  }
  await api('POST', '/createRoom', { name: 'elsewhere' })
}

/** In the page: click the room, resolve with the ms until its n messages are in the DOM and a frame is painted. */
function timeRoomOpen (name, n) {
  return new Promise((resolve) => {
    const button = [...document.querySelectorAll('[data-testid=room-item-name]')].find((e) => e.textContent === name).closest('button')
    const start = performance.now()
    button.click()
    const check = () => {
      if (document.querySelectorAll('[data-testid=timeline] [data-testid=message]').length >= n) {
        requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0))
      } else {
        requestAnimationFrame(check)
      }
    }
    check()
  })
}
