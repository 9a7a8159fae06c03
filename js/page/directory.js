/**
 * The public room directory: this server's and every known peer's, asked in
 * parallel (GET /publicRooms?server=<peer>), each answer shown as it comes in,
 * each failure named next to its server. Join goes through the room's server.
 */
import { h } from './dom.js'
import { MatrixError } from './matrix.js'
import { serverOf } from './model.js'

/** A peer that does not answer within this is reported and skipped. */
const PEER_TIMEOUT_MS = 15000

/**
 * @param {{client, model: () => object, servers: () => string[], ownServer: () => string,
 *   onJoined: (roomId) => void}} options
 */
export function createDirectory ({ client, model, servers, ownServer, onJoined }) {
  const $ = (id) => document.getElementById(id)
  const dialog = $('directory')
  const extra = new Set()
  /** server ('' = ours) → {state: 'loading'|'ok'|'error', rooms, error} */
  let results = new Map()
  let generation = 0

  $('directory-add').addEventListener('submit', (event) => {
    event.preventDefault()
    const server = $('directory-server').value.trim()
    if (!server) return
    $('directory-server').value = ''
    extra.add(server)
    ask(server, generation)
  })

  function open () {
    if (!dialog.open) dialog.showModal()
    refresh()
  }

  function refresh () {
    generation++
    results = new Map()
    const own = ownServer()
    const all = new Set(['', ...servers(), ...extra])
    all.delete(own)
    for (const server of all) ask(server, generation)
  }

  async function ask (server, gen) {
    results.set(server, { state: 'loading', rooms: [] })
    render()
    let entry
    try {
      const res = await client.publicRooms({ server: server || undefined, signal: AbortSignal.timeout(PEER_TIMEOUT_MS) })
      entry = { state: 'ok', rooms: res.chunk ?? [] }
    } catch (err) {
      const message = err.name === 'TimeoutError' ? `no answer within ${PEER_TIMEOUT_MS / 1000} s` : err instanceof MatrixError ? err.message : String(err.message ?? err)
      entry = { state: 'error', rooms: [], error: message }
    }
    if (gen !== generation) return
    results.set(server, entry)
    render()
  }

  function render () {
    const m = model()
    const items = []
    const seen = new Set()
    for (const [server, entry] of results) {
      for (const room of entry.rooms) {
        if (seen.has(room.room_id)) continue
        seen.add(room.room_id)
        const joined = m?.rooms.has(room.room_id)
        const via = server || serverOf(room.room_id)
        items.push(h('li', { dataset: { testid: 'public-room', roomId: room.room_id, server } },
          h('div', { className: 'name', dataset: { testid: 'public-room-name' } }, room.name || room.canonical_alias || room.room_id),
          room.topic ? h('div', { className: 'topic' }, room.topic) : null,
          h('div', { className: 'muted' }, `${room.num_joined_members ?? '?'} members · on ${server ? short(server) : 'this server'}`),
          joined
            ? h('button', { type: 'button', className: 'small', dataset: { testid: 'public-room-open' }, onclick: () => { dialog.close(); onJoined(room.room_id) } }, 'Open')
            : h('button', {
              type: 'button',
              className: 'small primary',
              dataset: { testid: 'public-room-join' },
              onclick: async (event) => {
                const button = event.currentTarget
                button.disabled = true
                button.textContent = 'Joining…'
                try {
                  const res = await client.join(room.room_id, server ? [via] : [])
                  dialog.close()
                  onJoined(res.room_id ?? room.room_id)
                } catch (err) {
                  button.disabled = false
                  button.textContent = 'Join'
                  $('directory-status').textContent = `Could not join ${room.name ?? room.room_id}: ${err.message}`
                }
              }
            }, 'Join')))
      }
    }
    $('directory-list').replaceChildren(...items)
    const loading = [...results.values()].filter((e) => e.state === 'loading').length
    const failed = [...results].filter(([, e]) => e.state === 'error')
    const parts = []
    if (loading) parts.push(`Asking ${loading} of ${results.size} servers…`)
    else parts.push(`${results.size} ${results.size === 1 ? 'server' : 'servers'} asked.`)
    if (items.length === 0 && !loading) parts.push('No public rooms found.')
    for (const [server, e] of failed) parts.push(`${server ? short(server) : 'this server'}: ${e.error}`)
    $('directory-status').textContent = parts.join(' ')
    $('directory-status').dataset.loading = String(loading > 0)
  }

  return { open, refresh }
}

function short (server) {
  return server.length > 20 ? `${server.slice(0, 8)}…${server.slice(-6)}` : server
}
