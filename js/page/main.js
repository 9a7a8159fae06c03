/**
 * The page: connects to the service worker, shows the server's start-up, then
 * a minimal Matrix client (register or log in, rooms, messages) talking to the
 * server on this origin. Plain DOM; every element tests use has a data-testid.
 */
import { connectWorker } from './worker.js'
import { createClient, MatrixError } from './matrix.js'
import { createNetworkView } from './network.js'
import { showStorageStatus } from './storage-status.js'

const SESSION_KEY = 'hearth.session'
const ROOM_KEY = 'hearth.room'
/** Long-polls stay at 20 s: Firefox stops a service worker idle for ~30 s. */
const SYNC_TIMEOUT_MS = 20000
const SYNC_FILTER = { room: { timeline: { limit: 50 } } }

const $ = (id) => document.getElementById(id)

const PHASE_TEXT = {
  loading: 'Loading…',
  registering: 'Installing the service worker…',
  idle: 'Waiting for the server…',
  downloading: 'Downloading the server…',
  compiling: 'Compiling the server…',
  starting: 'Starting the server…',
  ready: 'Ready',
  failed: 'The server failed to start'
}

/**
 * Page state. session: {accessToken, userId, deviceId} or null; rooms: roomId ->
 * {name, events: [event], ids: Set<event_id>, limited}; syncAbort cancels the
 * sync loop of the current session.
 */
const state = {
  client: createClient(),
  session: null,
  rooms: new Map(),
  selected: localStorage.getItem(ROOM_KEY),
  syncAbort: null,
  serverReady: null,
  network: null,
  txnCounter: 0
}

function showStatus (status) {
  const phase = status.phase
  const el = $('startup-phase')
  el.dataset.phase = phase
  document.body.dataset.server = phase
  let text = PHASE_TEXT[phase] ?? phase
  if (phase === 'downloading' && status.loaded !== undefined) {
    const mb = (n) => (n / 1e6).toFixed(1)
    text += status.total ? ` ${mb(status.loaded)} of ${mb(status.total)} MB` : ` ${mb(status.loaded)} MB`
  }
  if (phase === 'ready' && status.serverName) text += ` — server ${status.serverName}`
  if (status.waitingForPrevious && phase !== 'ready' && phase !== 'failed') text += ' (waiting for the previous server to stop)'
  el.textContent = text
  const progress = $('startup-progress')
  progress.hidden = phase === 'ready' || phase === 'failed'
  if (phase === 'downloading' && status.total) {
    progress.max = status.total
    progress.value = status.loaded
  } else {
    progress.removeAttribute('value') // indeterminate
  }
  const error = $('startup-error')
  error.hidden = phase !== 'failed'
  $('startup-retry').hidden = phase !== 'failed' || status.retryable === false
  if (phase === 'failed') {
    error.textContent = `${status.error ?? 'unknown error'}` + (status.failedPhase ? ` (while ${status.failedPhase})` : '') +
      (status.retryable === false ? '\nClose every Hearth tab and open the site again to restart the server.' : '')
  }
  if (phase === 'ready') state.serverReady?.resolve(status)
  state.network?.render(phase === 'ready' ? status.p2p : undefined)
}

function showError (target, err) {
  const el = $(target)
  if (err === null) {
    el.hidden = true
    el.textContent = ''
    return
  }
  el.hidden = false
  el.textContent = err instanceof Error ? err.message : String(err)
  if (!(err instanceof MatrixError)) console.error(err)
}

/** Runs an action from a form: disables its buttons meanwhile, shows its error. */
async function act (form, errorTarget, fn) {
  const buttons = form.querySelectorAll('button')
  buttons.forEach((b) => { b.disabled = true })
  showError(errorTarget, null)
  try {
    await fn()
  } catch (err) {
    showError(errorTarget, err)
  } finally {
    buttons.forEach((b) => { b.disabled = false })
  }
}

// ---- session ----

function saveSession (login) {
  state.session = { accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id }
  localStorage.setItem(SESSION_KEY, JSON.stringify(state.session))
  state.client.accessToken = state.session.accessToken
}

function forgetSession () {
  state.syncAbort?.abort()
  state.syncAbort = null
  state.session = null
  state.rooms.clear()
  state.selected = null
  state.client.accessToken = null
  localStorage.removeItem(SESSION_KEY)
  localStorage.removeItem(ROOM_KEY)
}

function showAuth () {
  $('auth').hidden = false
  $('app').hidden = true
  $('logout').hidden = true
  $('whoami').textContent = ''
  $('auth-username').focus()
}

async function enterApp () {
  $('auth').hidden = true
  $('app').hidden = false
  $('logout').hidden = false
  $('whoami').textContent = state.session.userId
  const joined = await state.client.joinedRooms()
  for (const id of joined.joined_rooms ?? []) room(id)
  renderRooms()
  renderTimeline()
  state.syncAbort = new AbortController()
  syncLoop(state.syncAbort.signal)
}

// ---- rooms and timeline ----

function room (id) {
  let r = state.rooms.get(id)
  if (!r) {
    r = { name: null, events: [], ids: new Set(), limited: false }
    state.rooms.set(id, r)
  }
  return r
}

function applyEvent (r, event) {
  if (event.type === 'm.room.name' && event.state_key === '') r.name = event.content?.name || null
  if (event.event_id && r.ids.has(event.event_id)) return
  // A local echo is replaced by the real event.
  const echo = r.events.findIndex((e) => e.pending && (e.event_id === event.event_id ||
    (e.txnId && e.txnId === event.unsigned?.transaction_id)))
  if (echo >= 0) r.events.splice(echo, 1)
  if (event.event_id) r.ids.add(event.event_id)
  r.events.push(event)
}

function applySync (res) {
  for (const [id, joined] of Object.entries(res.rooms?.join ?? {})) {
    const r = room(id)
    for (const event of joined.state?.events ?? []) {
      if (event.type === 'm.room.name' && event.state_key === '') r.name = event.content?.name || null
    }
    if (joined.timeline?.limited && r.events.length === 0) r.limited = true
    for (const event of joined.timeline?.events ?? []) applyEvent(r, event)
  }
  for (const id of Object.keys(res.rooms?.leave ?? {})) state.rooms.delete(id)
  renderRooms()
  renderTimeline()
}

async function syncLoop (signal) {
  let since
  let backoff = 1000
  while (!signal.aborted) {
    try {
      const timeout = since === undefined ? 0 : SYNC_TIMEOUT_MS
      // The page gives up a little after the server should have answered.
      const deadline = AbortSignal.any ? AbortSignal.any([signal, AbortSignal.timeout(timeout + 15000)]) : signal
      const res = await state.client.sync({ since, timeout, filter: SYNC_FILTER, signal: deadline })
      if (signal.aborted) return
      since = res.next_batch
      applySync(res)
      showError('app-error', null)
      backoff = 1000
    } catch (err) {
      if (signal.aborted) return
      if (err instanceof MatrixError && err.errcode === 'M_UNKNOWN_TOKEN') {
        forgetSession()
        showAuth()
        showError('auth-error', new Error('Your session ended; log in again.'))
        return
      }
      showError('app-error', new Error(`sync failed, retrying: ${err.message}`))
      await new Promise((resolve) => setTimeout(resolve, backoff))
      backoff = Math.min(backoff * 2, 15000)
    }
  }
}

function roomName (id) {
  return state.rooms.get(id)?.name || id
}

function renderRooms () {
  const list = $('room-list')
  // Re-render only on change, so a click never lands on a replaced button.
  const key = JSON.stringify([...state.rooms.keys()].map((id) => [id, roomName(id), id === state.selected]))
  if (list.dataset.key === key) return
  list.dataset.key = key
  list.replaceChildren(...[...state.rooms.keys()].map((id) => {
    const li = document.createElement('li')
    const button = document.createElement('button')
    button.type = 'button'
    button.dataset.testid = 'room-item'
    button.dataset.roomId = id
    button.textContent = roomName(id)
    button.title = id
    button.setAttribute('aria-current', String(id === state.selected))
    button.addEventListener('click', () => selectRoom(id))
    li.append(button)
    return li
  }))
}

function selectRoom (id) {
  state.selected = id
  localStorage.setItem(ROOM_KEY, id)
  renderRooms()
  renderTimeline()
  $('composer-input').focus()
}

function renderTimeline () {
  const id = state.selected
  const r = id ? state.rooms.get(id) : undefined
  $('composer').hidden = !r
  $('room-title').textContent = r ? roomName(id) : 'No room selected'
  $('room-title').dataset.roomId = r ? id : ''
  const timeline = $('timeline')
  if (!r) {
    timeline.replaceChildren()
    return
  }
  const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40
  const items = r.events.map(renderEvent).filter(Boolean)
  if (r.limited) {
    const li = document.createElement('li')
    li.className = 'limited'
    li.textContent = 'Earlier events are not shown.'
    items.unshift(li)
  }
  timeline.replaceChildren(...items)
  if (atBottom) timeline.scrollTop = timeline.scrollHeight
}

function renderEvent (event) {
  const li = document.createElement('li')
  if (event.event_id) li.dataset.eventId = event.event_id
  if (event.type === 'm.room.message') {
    li.dataset.testid = 'message'
    li.dataset.pending = String(Boolean(event.pending))
    const sender = document.createElement('span')
    sender.className = 'sender'
    sender.textContent = shortUser(event.sender)
    sender.title = event.sender
    const body = document.createElement('span')
    body.className = 'body'
    body.dataset.testid = 'message-body'
    body.textContent = event.content?.body ?? ''
    li.append(sender, body)
    if (event.failed) li.append(' (not sent: ', event.failed, ')')
    return li
  }
  const notice = noticeText(event)
  if (notice === null) return null
  li.className = 'notice'
  li.dataset.testid = 'notice'
  li.textContent = notice
  return li
}

/**
 * Server names are long (they are peer IDs): users of our own server are shown
 * by their localpart, others in full.
 */
function shortUser (userId = '') {
  const own = state.session?.userId
  const server = (id) => id.slice(id.indexOf(':') + 1)
  return own && server(userId) === server(own) ? userId.slice(0, userId.indexOf(':')) : userId
}

function noticeText (event) {
  switch (event.type) {
    case 'm.room.create': return `${shortUser(event.sender)} created the room`
    case 'm.room.name': return `${shortUser(event.sender)} named the room “${event.content?.name ?? ''}”`
    case 'm.room.member': return `${shortUser(event.state_key)} ${event.content?.membership === 'join' ? 'joined' : event.content?.membership}`
    default: return null
  }
}

async function send (text) {
  const roomId = state.selected
  const r = state.rooms.get(roomId)
  const txnId = `hearth-${Date.now()}-${state.txnCounter++}`
  const content = { msgtype: 'm.text', body: text }
  const echo = { type: 'm.room.message', sender: state.session.userId, content, pending: true, txnId }
  r.events.push(echo)
  renderTimeline()
  try {
    const res = await state.client.sendMessage(roomId, txnId, content)
    if (r.ids.has(res.event_id)) {
      // The sync loop was faster: drop the echo.
      r.events.splice(r.events.indexOf(echo), 1)
    } else {
      echo.event_id = res.event_id
    }
  } catch (err) {
    echo.failed = err.message
    throw err
  } finally {
    renderTimeline()
  }
}

// ---- wiring ----

function wire (worker) {
  $('startup-retry').addEventListener('click', () => worker.boot())

  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const action = event.submitter?.value ?? 'login'
    const username = $('auth-username').value.trim()
    const password = $('auth-password').value
    act($('auth-form'), 'auth-error', async () => {
      const login = action === 'register'
        ? await state.client.register(username, password)
        : await state.client.login(username, password)
      saveSession(login)
      $('auth-password').value = ''
      await enterApp()
    })
  })

  $('logout').addEventListener('click', () => {
    act($('logout').parentElement, 'app-error', async () => {
      try {
        await state.client.logout()
      } finally {
        forgetSession()
        showAuth()
      }
    })
  })

  $('new-room').addEventListener('submit', (event) => {
    event.preventDefault()
    act($('new-room'), 'app-error', async () => {
      const name = $('new-room-name').value.trim()
      const res = await state.client.createRoom(name)
      const r = room(res.room_id)
      r.name ??= name
      $('new-room-name').value = ''
      selectRoom(res.room_id)
    })
  })

  $('composer').addEventListener('submit', (event) => {
    event.preventDefault()
    const input = $('composer-input')
    const text = input.value
    if (!text.trim()) return
    input.value = ''
    send(text).catch((err) => showError('app-error', err))
  })
}

async function main () {
  state.serverReady = Promise.withResolvers
    ? Promise.withResolvers()
    : (() => { const d = {}; d.promise = new Promise((resolve) => { d.resolve = resolve }); return d })()
  state.network = createNetworkView($('network'))
  showStatus({ phase: 'registering' })
  let worker
  try {
    worker = await connectWorker({ onStatus: showStatus })
  } catch (err) {
    showStatus({ phase: 'failed', error: err.message })
    $('startup-retry').hidden = true
    return
  }
  wire(worker)
  worker.boot()
  await state.serverReady.promise
  showStorageStatus($('storage-status'))

  const saved = localStorage.getItem(SESSION_KEY)
  if (saved) {
    try {
      state.session = JSON.parse(saved)
      state.client.accessToken = state.session.accessToken
      const me = await state.client.whoami()
      state.session.userId = me.user_id
      await enterApp()
      return
    } catch (err) {
      forgetSession()
      showAuth()
      showError('auth-error', err instanceof MatrixError && err.errcode === 'M_UNKNOWN_TOKEN'
        ? new Error('Your saved session is no longer valid; log in again.')
        : err)
      return
    }
  }
  showAuth()
}

main()
