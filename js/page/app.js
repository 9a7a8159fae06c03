/**
 * The logged-in client: the sync loop, the model it feeds, the views, and the
 * user's actions (create, invite, join, leave, send, retry, typing, receipts).
 *
 * Never blocks the page: the sync loop awaits the network, each response is
 * applied in one pass over what it carries, and renders are coalesced into one
 * task that touches only what changed (room versions, see model.js).
 *
 * Features the server may not have yet (profiles, typing, receipts) are tried
 * and switched off for the session on M_UNRECOGNIZED.
 */
import { createModel, serverOf } from './model.js'
import { MatrixError, mediaUrl } from './matrix.js'
import { createMarkdown } from './markdown.js'
import { createRichText } from './rich-text.js'
import { createRoomView } from './room-view.js'
import { createThreadView } from './thread-view.js'
import { createProfile } from './profile.js'
import { createRoomSettings } from './room-settings.js'
import { createSidebar } from './sidebar.js'
import { createDirectory } from './directory.js'
import { createComposer } from './composer.js'
import { createNotifier } from './notifier.js'
import { wireAttachments, fileContent } from './attachments.js'
import { isEditable } from './message-view.js'
import { MSG } from '../../sw/protocol.js'

/** Long-polls stay at 20 s: Firefox stops a service worker idle for ~30 s. */
const SYNC_TIMEOUT_MS = 20000
const SYNC_FILTER = { room: { timeline: { limit: 50 } } }
/** A typing notice lasts this long on the server; we renew it while typing goes on. */
const TYPING_TIMEOUT_MS = 6000
const TYPING_RENEW_MS = 4000
const PHONE = '(max-width: 40rem)'
/**
 * Where our messages are on their way to other servers is asked of our own
 * server (no network traffic), for the newest few not yet delivered in the
 * open room, this often.
 */
const DELIVERY_POLL_MS = 2000
const DELIVERY_WINDOW = 20
/** Pages of 50 replies fetched when a thread opens. */
const THREAD_PAGES = 4

/**
 * @param {{client, session: {userId, accessToken, deviceId, displayName?}, storage: Storage,
 *   showError: (target, err) => void, act: (form, errorTarget, fn) => Promise<void>, onSessionEnded: (message) => void, network: () => {serverName?, peers?},
 *   onProfileChanged?: () => void}} options
 * @returns {{start, stop, renderNetwork}}
 */
export function createApp ({ client, session, storage, showError, act, onSessionEnded, network, onProfileChanged = () => {} }) {
  const $ = (id) => document.getElementById(id)
  const roomKey = `hearth.room.${session.userId}`
  const readKey = `hearth.read.${session.userId}`
  const readMarks = new Map(Object.entries(safeParse(storage.getItem(readKey)) ?? {}))
  const model = createModel({ userId: session.userId, readMarks, ownName: () => session.displayName })
  const features = { profile: true, typing: true, receipts: true, delivery: true, threads: true }
  const abort = new AbortController()
  const listeners = []
  const sendQueues = new Map() // roomId → promise of the last send: sends go out in order
  const typingState = { roomId: null, sentAt: 0, on: false }
  const phone = matchMedia(PHONE)
  // A notification opened in a new window names its room in the URL (sw/sw.js).
  let selected = roomFromHash() ?? storage.getItem(roomKey)
  let renderQueued = false
  let txnCounter = 0
  let synced = false

  const markdown = createMarkdown()
  const richText = createRichText({ mediaUrl })
  const actions = {
    reply: (event) => composer.replyTo(event.event_id, `Replying to ${model.displayName(selected, event.sender)}`),
    edit: startEdit,
    react: toggleReaction,
    remove: (event) => redact(selected, event.event_id),
    thread: (event) => { showMembers(false); threadView.open(selected, event.event_id) }
  }
  const roomView = createRoomView({ model, richText, onRetry: retry, onLoadEarlier: loadEarlier, actions, onSetPower: setPower })
  const threadView = createThreadView({
    model, richText, actions, onRetry: retry, loadThread, loadThreads, onSend: sendInThread, signal: abort.signal
  })
  createProfile({ client, session, act, onChanged: () => { onProfileChanged(); scheduleRender() }, signal: abort.signal })
  const roomSettings = createRoomSettings({
    client,
    model,
    act,
    signal: abort.signal,
    onForgotten: (roomId) => {
      model.rooms.delete(roomId)
      model.listVersion++
      if (selected === roomId) select(null)
      else scheduleRender()
    }
  })
  const notifier = createNotifier({
    userId: session.userId,
    storage,
    button: $('notifications-toggle'),
    registration: () => navigator.serviceWorker.ready
  })
  const composer = createComposer({
    signal: abort.signal,
    onSubmit: (text, context) => {
      if (!selected) return
      notifier.sentMessage()
      if (context?.kind === 'edit') edit(selected, context.eventId, text)
      else send(text, context?.kind === 'reply' ? context.eventId : undefined)
    },
    onInput: typed,
    onBlur: stopTyping,
    onEditLast: () => {
      const r = selected && model.rooms.get(selected)
      const last = r?.events.findLast((e) => e.sender === session.userId && model.isMessage(r.id, e) && isEditable(r.relations.content(e)))
      if (last) startEdit(last)
    }
  })

  /** The composer takes one of our messages, as shown now (its newest edit), to edit. */
  function startEdit (event) {
    composer.edit(event.event_id, 'Editing your message', model.rooms.get(selected).relations.content(event).body)
  }
  const sidebar = createSidebar({ model, onSelect: select, onAccept: accept, onReject: reject })
  const directory = createDirectory({
    client,
    model: () => model,
    servers: knownServers,
    ownServer: () => serverOf(session.userId),
    onJoined: (roomId) => { model.room(roomId); select(roomId) }
  })

  // ---- rendering ----

  function scheduleRender () {
    if (renderQueued) return
    renderQueued = true
    setTimeout(render, 0)
  }

  function render () {
    renderQueued = false
    if (abort.signal.aborted) return
    if (selected && !model.rooms.has(selected) && synced) selected = null
    sidebar.render(selected)
    roomView.render(selected)
    threadView.render(selected)
    $('app').dataset.view = selected && $('app').dataset.view === 'room' ? 'room' : 'list'
    markReadIfSeen()
    notifier.title(model.totalUnread())
  }

  function roomIsVisible () {
    return selected && document.visibilityState === 'visible' && (!phone.matches || $('app').dataset.view === 'room')
  }

  function markReadIfSeen () {
    if (!roomIsVisible()) return
    const eventId = model.markRead(selected)
    if (!eventId) return
    readMarks.set(selected, eventId)
    storage.setItem(readKey, JSON.stringify(Object.fromEntries(readMarks)))
    sidebar.render(selected)
    if (features.receipts) {
      client.receipt(selected, eventId).catch((err) => unsupported(err, 'receipts'))
    }
  }

  function renderNetwork () {
    const net = network() ?? {}
    $('my-peer-id').textContent = net.serverName ?? serverOf(session.userId)
    $('my-user-id').textContent = session.userId
    // The count until the worker's network view (network.js, from status.p2p) takes this place.
    const count = $('peers-online-count')
    if (!count) return
    if (Array.isArray(net.peers)) {
      count.textContent = String(net.peers.length)
      count.dataset.count = String(net.peers.length)
      count.title = net.peers.join('\n')
    } else {
      count.textContent = 'not connected to the network yet'
      delete count.dataset.count
    }
  }

  /** Servers we know: peers online, and the servers of everyone in our rooms. */
  function knownServers () {
    const out = new Set(network()?.peers ?? [])
    for (const r of model.rooms.values()) for (const user of r.members.keys()) out.add(serverOf(user))
    for (const inv of model.invites.values()) if (inv.inviter) out.add(serverOf(inv.inviter))
    out.delete(serverOf(session.userId))
    return [...out]
  }

  function unsupported (err, feature) {
    if (err instanceof MatrixError && (err.errcode === 'M_UNRECOGNIZED' || err.status === 404 || err.status === 405)) {
      features[feature] = false
      console.info(`hearth: the server does not support ${feature} yet; the page stops using them`)
      return true
    }
    console.warn(`hearth: ${feature}:`, err)
    return false
  }

  // ---- sync ----

  async function syncLoop () {
    let since
    let backoff = 1000
    const signal = abort.signal
    while (!signal.aborted) {
      try {
        const timeout = since === undefined ? 0 : SYNC_TIMEOUT_MS
        // The page gives up a little after the server should have answered.
        const deadline = AbortSignal.any ? AbortSignal.any([signal, AbortSignal.timeout(timeout + 15000)]) : signal
        const res = await client.sync({ since, timeout, filter: SYNC_FILTER, signal: deadline })
        if (signal.aborted) return
        since = res.next_batch
        const { left } = model.applySync(res)
        notifier.synced(res, model, { initial: !synced }).catch((err) => console.warn('hearth: notifications:', err))
        if (!synced) {
          synced = true
          $('app').dataset.synced = 'true'
          if (selected && model.rooms.has(selected) && !phone.matches) $('app').dataset.view = 'room'
        }
        if (left.includes(selected)) selected = null
        showError('app-error', null)
        backoff = 1000
        scheduleRender()
      } catch (err) {
        if (signal.aborted) return
        if (err instanceof MatrixError && err.errcode === 'M_UNKNOWN_TOKEN') {
          onSessionEnded('Your session ended; log in again.')
          return
        }
        showError('app-error', new Error(`sync failed, retrying: ${err.message}`))
        await new Promise((resolve) => setTimeout(resolve, backoff))
        backoff = Math.min(backoff * 2, 15000)
      }
    }
  }

  // ---- delivery of our messages to the room's other servers ----

  async function deliveryLoop () {
    const signal = abort.signal
    while (!signal.aborted && features.delivery) {
      try {
        await refreshDelivery()
      } catch (err) {
        unsupported(err, 'delivery')
      }
      await new Promise((resolve) => setTimeout(resolve, DELIVERY_POLL_MS))
    }
  }

  async function refreshDelivery () {
    const r = selected && model.rooms.get(selected)
    if (!r || !model.hasOtherServers(r.id)) return
    const ids = r.events
      .filter((e) => e.sender === session.userId && e.type === 'm.room.message' && e.event_id &&
        r.delivery.get(e.event_id)?.state !== 'delivered')
      .slice(-DELIVERY_WINDOW)
      .map((e) => e.event_id)
    if (ids.length === 0) return
    const res = await client.delivery(r.id, ids)
    let changed = false
    for (const [eventId, info] of Object.entries(res.events ?? {})) changed = model.setDelivery(r.id, eventId, info) || changed
    if (changed) scheduleRender()
  }

  // ---- actions ----

  function select (roomId) {
    if (selected !== roomId) {
      stopTyping()
      composer.reset()
    }
    selected = roomId
    if (roomId) storage.setItem(roomKey, roomId)
    else storage.removeItem(roomKey)
    $('app').dataset.view = roomId ? 'room' : 'list'
    $('invite-form').hidden = true
    $('leave-confirm').hidden = true
    render()
    if (roomId && !phone.matches) $('composer-input').focus()
    if (roomId) loadThreads(roomId).catch((err) => unsupported(err, 'threads'))
  }

  function newTxnId () {
    return `hearth-${Date.now().toString(36)}-${txnCounter++}`
  }

  /**
   * A new message, or a reply to replyTo (an event ID); spec 1.13 replies need no quoted fallback.
   * A reply mentions (m.mentions) the one it answers and any member whose user ID it names; other
   * messages carry no m.mentions, so that receivers still match display names in their text.
   */
  function send (text, replyTo) {
    const roomId = selected
    const content = markdown.toContent(text)
    if (replyTo) {
      content['m.relates_to'] = { 'm.in_reply_to': { event_id: replyTo } }
      const answered = model.event(roomId, replyTo)?.sender
      const named = [...model.rooms.get(roomId)?.members.keys() ?? []].filter((u) => text.includes(u))
      const users = [...new Set([answered, ...named])].filter((u) => u && u !== session.userId)
      content['m.mentions'] = { user_ids: users }
    }
    const echo = model.addEcho(roomId, { txnId: newTxnId(), content, now: Date.now() })
    scheduleRender()
    stopTyping()
    return enqueue(roomId, echo)
  }

  /** A reply in a thread: m.thread to its root, and (for clients without threads) a reply to its latest message. */
  function sendInThread (roomId, rootId, text) {
    const content = markdown.toContent(text)
    const latest = model.rooms.get(roomId)?.relations.thread(rootId)?.latest?.event_id ?? rootId
    content['m.relates_to'] = { rel_type: 'm.thread', event_id: rootId, is_falling_back: true, 'm.in_reply_to': { event_id: latest } }
    const echo = model.addEcho(roomId, { txnId: newTxnId(), content, now: Date.now() })
    scheduleRender()
    return enqueue(roomId, echo)
  }

  /** A thread's root (if not loaded) and its replies, newest first, up to THREAD_PAGES pages. */
  async function loadThread (roomId, rootId) {
    if (!model.event(roomId, rootId)) model.addOutside(roomId, [await client.event(roomId, rootId)])
    let from
    for (let page = 0; page < THREAD_PAGES; page++) {
      const res = await client.relations(roomId, rootId, 'm.thread', { from, limit: 50 })
      model.addOutside(roomId, res.chunk ?? [])
      from = res.next_batch
      if (!from) break
    }
    scheduleRender()
  }

  /** The room's thread roots with their summaries (reply counts); their IDs, latest activity first. */
  async function loadThreads (roomId) {
    if (!features.threads) return []
    const res = await client.threads(roomId, { limit: 50 })
    model.addOutside(roomId, res.chunk ?? [])
    scheduleRender()
    return (res.chunk ?? []).map((e) => e.event_id)
  }

  /** An admin gives a member another power level (the room's whole m.room.power_levels, one entry changed); false if refused. */
  async function setPower (roomId, userId, level) {
    const r = model.rooms.get(roomId)
    try {
      const current = r?.powerLevels ?? {}
      await client.setState(roomId, 'm.room.power_levels', '', { ...current, users: { ...(current.users ?? {}), [userId]: level } })
      return true
    } catch (err) {
      showError('app-error', new Error(`Could not change the power level: ${err.message}`))
      return false
    }
  }

  function retry (roomId, echo) {
    echo.failed = undefined
    model.rooms.get(roomId).version++
    scheduleRender()
    return echo.file && !echo.content.url ? upload(roomId, echo) : enqueue(roomId, echo)
  }

  /** A picture or file: shown at once (a local preview), uploaded with progress, then sent. */
  async function sendFile (roomId, file) {
    const content = await fileContent(file)
    const echo = model.addEcho(roomId, { txnId: newTxnId(), content, now: Date.now() })
    echo.file = file
    if (content.msgtype === 'm.image') echo.preview = URL.createObjectURL(file)
    scheduleRender()
    return upload(roomId, echo)
  }

  async function upload (roomId, echo) {
    const changed = () => {
      const r = model.rooms.get(roomId)
      if (r) r.version++
      scheduleRender()
    }
    echo.upload = { loaded: 0, total: echo.file.size }
    changed()
    try {
      echo.content.url = await client.upload(echo.file, {
        onProgress: (loaded, total) => { echo.upload = { loaded, total }; changed() }
      })
    } catch (err) {
      model.echoFailed(roomId, echo, err.message)
      return
    } finally {
      echo.upload = undefined
      changed()
    }
    return enqueue(roomId, echo)
  }

  /** Sends an echo after the room's earlier sends settle; the same txnId on retry makes it idempotent. */
  function enqueue (roomId, echo) {
    const previous = sendQueues.get(roomId) ?? Promise.resolve()
    const next = previous.then(async () => {
      try {
        const res = await client.sendEvent(roomId, 'm.room.message', echo.txnId, echo.content)
        model.echoSent(roomId, echo, res.event_id)
      } catch (err) {
        model.echoFailed(roomId, echo, err.message)
      }
      scheduleRender()
    })
    sendQueues.set(roomId, next)
    return next
  }

  /**
   * Edits, reactions and deletions go out at once, without a local echo: the
   * next sync (a few ms away on our own server) shows them.
   */
  async function relate (roomId, what, fn) {
    try {
      await fn(newTxnId())
    } catch (err) {
      showError('app-error', new Error(`Could not ${what}: ${err.message}`))
    }
  }

  /** Replaces one of our messages: m.new_content is what clients show, body a fallback for those without edits. */
  function edit (roomId, eventId, text) {
    const content = markdown.toContent(text)
    const fallback = { ...content, body: `* ${content.body}`, ...(content.formatted_body && { formatted_body: `* ${content.formatted_body}` }) }
    return relate(roomId, 'edit the message', (txnId) => client.sendEvent(roomId, 'm.room.message', txnId, {
      ...fallback, 'm.new_content': content, 'm.relates_to': { rel_type: 'm.replace', event_id: eventId }
    }))
  }

  /** Adds our reaction `key` to an event, or takes it back if we have it. */
  function toggleReaction (event, key) {
    const roomId = selected
    const mine = model.rooms.get(roomId)?.relations.reactions(event.event_id, session.userId).find((x) => x.key === key)?.mine
    return relate(roomId, 'react', (txnId) => mine
      ? client.redact(roomId, mine, txnId)
      : client.sendEvent(roomId, 'm.reaction', txnId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: event.event_id, key } }))
  }

  function redact (roomId, eventId) {
    return relate(roomId, 'delete the message', (txnId) => client.redact(roomId, eventId, txnId))
  }

  function stopTyping () {
    if (!typingState.on || !features.typing) return
    const roomId = typingState.roomId
    typingState.on = false
    client.typing(roomId, session.userId, false).catch((err) => unsupported(err, 'typing'))
  }

  function typed () {
    if (!features.typing || !selected) return
    if (!composer.text) return stopTyping()
    const now = Date.now()
    if (typingState.on && typingState.roomId === selected && now - typingState.sentAt < TYPING_RENEW_MS) return
    typingState.on = true
    typingState.roomId = selected
    typingState.sentAt = now
    client.typing(selected, session.userId, true, TYPING_TIMEOUT_MS).catch((err) => unsupported(err, 'typing'))
  }

  async function createRoom ({ name, topic, isPublic }) {
    const res = await client.createRoom({ name, topic, isPublic })
    const r = model.room(res.room_id)
    r.name ??= name
    r.topic ??= topic || null
    r.joinRule ??= isPublic ? 'public' : 'invite'
    select(res.room_id)
  }

  async function accept (roomId) {
    const inv = model.invites.get(roomId)
    try {
      const via = [inv?.inviter && serverOf(inv.inviter), serverOf(roomId)].filter(Boolean)
      await client.join(roomId, [...new Set(via)])
      model.invites.delete(roomId)
      const r = model.room(roomId)
      r.name ??= inv?.name ?? null
      model.listVersion++
      select(roomId)
    } catch (err) {
      showError('app-error', new Error(`Could not join: ${err.message}`))
    }
  }

  async function reject (roomId) {
    try {
      await client.leave(roomId)
      model.invites.delete(roomId)
      model.listVersion++
      scheduleRender()
    } catch (err) {
      showError('app-error', new Error(`Could not reject the invitation: ${err.message}`))
    }
  }

  async function leave () {
    const roomId = selected
    await client.leave(roomId)
    model.rooms.delete(roomId)
    model.listVersion++
    select(null)
  }

  async function invite (userId) {
    if (!/^@[^:\s]+:\S+$/.test(userId)) throw new Error('A user ID looks like @name:server (the server is the peer ID)')
    await client.invite(selected, userId)
  }

  async function loadEarlier (roomId) {
    const r = model.rooms.get(roomId)
    if (!r?.prevBatch) return
    const res = await client.messages(roomId, { from: r.prevBatch, dir: 'b', limit: 30 })
    model.prependEvents(roomId, res.chunk ?? [], res.end)
    scheduleRender()
  }

  /** One side panel at a time beside the timeline: the members or a thread. */
  function showMembers (on) {
    $('members').hidden = !on
    $('members-toggle').setAttribute('aria-pressed', String(on))
  }

  // ---- wiring ----

  function on (target, type, fn) {
    target.addEventListener(type, fn)
    listeners.push(() => target.removeEventListener(type, fn))
  }

  function wire () {
    on($('new-room-open'), 'click', () => {
      $('new-room').hidden = !$('new-room').hidden
      if (!$('new-room').hidden) $('new-room-name').focus()
    })
    on($('new-room-cancel'), 'click', () => { $('new-room').hidden = true })
    on($('new-room'), 'submit', (event) => {
      event.preventDefault()
      act($('new-room'), 'app-error', async () => {
        const form = $('new-room')
        await createRoom({
          name: $('new-room-name').value.trim(),
          topic: $('new-room-topic').value.trim(),
          isPublic: form.querySelector('input[name=visibility]:checked')?.value === 'public'
        })
        form.reset()
        form.hidden = true
      })
    })
    on($('directory-open'), 'click', () => directory.open())
    on($('threads-open'), 'click', () => {
      if (!selected) return
      showMembers(false)
      threadView.openList(selected)
    })
    on($('settings-open'), 'click', () => { if (selected) roomSettings.open(selected) })
    on($('back'), 'click', () => {
      $('app').dataset.view = 'list'
      render()
    })
    on($('members-toggle'), 'click', () => {
      showMembers($('members').hidden)
      if (!$('members').hidden) threadView.close()
    })
    on($('invite-open'), 'click', () => {
      $('invite-form').hidden = false
      $('leave-confirm').hidden = true
      $('invite-user').focus()
    })
    on($('invite-cancel'), 'click', () => { $('invite-form').hidden = true })
    on($('invite-form'), 'submit', (event) => {
      event.preventDefault()
      act($('invite-form'), 'app-error', async () => {
        await invite($('invite-user').value.trim())
        $('invite-user').value = ''
        $('invite-form').hidden = true
      })
    })
    on($('leave'), 'click', () => {
      $('leave-confirm').hidden = false
      $('invite-form').hidden = true
    })
    on($('leave-no'), 'click', () => { $('leave-confirm').hidden = true })
    on($('leave-yes'), 'click', () => act($('leave-confirm'), 'app-error', leave))
    on($('my-peer-id-copy'), 'click', () => copy($('my-peer-id'), $('my-peer-id-copy')))
    on(document, 'visibilitychange', () => {
      markReadIfSeen()
      notifier.title(model.totalUnread())
    })
    on($('notifications-toggle'), 'click', () => notifier.toggle())
    wireAttachments({
      button: $('attach'),
      input: $('attach-input'),
      composer: $('composer-input'),
      dropZone: $('room'),
      signal: abort.signal,
      onFiles: (files) => {
        if (!selected) return
        const roomId = selected
        for (const file of files) sendFile(roomId, file).catch((err) => showError('app-error', new Error(`Could not send ${file.name}: ${err.message}`)))
      }
    })
    // A click outside the picture (on the backdrop) closes the viewer.
    on($('image-viewer'), 'click', (event) => { if (event.target === $('image-viewer')) $('image-viewer').close() })
    if (navigator.serviceWorker) {
      on(navigator.serviceWorker, 'message', (event) => {
        const { type, roomId, userId } = event.data ?? {}
        if (type === MSG.openRoom && userId === session.userId && model.rooms.has(roomId)) select(roomId)
      })
    }
    on(phone, 'change', scheduleRender)
  }

  return {
    model,
    start () {
      wire()
      renderNetwork()
      render()
      syncLoop()
      deliveryLoop()
    },
    stop () {
      abort.abort()
      notifier.title(0)
      for (const off of listeners.splice(0)) off()
    },
    renderNetwork
  }
}

async function copy (source, button) {
  const text = source.textContent
  try {
    await navigator.clipboard.writeText(text)
    flash(button, 'Copied')
  } catch {
    // No clipboard permission (or an insecure context): select it for Ctrl+C instead.
    const range = document.createRange()
    range.selectNodeContents(source)
    getSelection().removeAllRanges()
    getSelection().addRange(range)
    flash(button, 'Selected: press Ctrl+C')
  }
}

function flash (button, text) {
  const original = button.dataset.label ?? button.textContent
  button.dataset.label = original
  button.textContent = text
  setTimeout(() => { button.textContent = original }, 1500)
}

function roomFromHash () {
  const room = new URLSearchParams(location.hash.slice(1)).get('room')
  if (room) history.replaceState(null, '', location.pathname + location.search)
  return room
}

function safeParse (text) {
  try {
    return text ? JSON.parse(text) : null
  } catch {
    return null
  }
}
