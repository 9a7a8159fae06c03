/**
 * The open room: header (name, topic), timeline, member list, typing line.
 * Renders incrementally: timeline items are cached by key (event ID, or the
 * transaction ID of our own messages, so a local echo's node becomes the sent
 * message's node) and only items whose content changed are rebuilt.
 */
import { h, reconcile, createNodeCache } from './dom.js'
import { createMessageView, timeNode } from './message-view.js'

/**
 * @param {{model: object, richText: {render: (content) => Node[]}, actions: object, onRetry: (roomId, echo) => void,
 *   onLoadEarlier: (roomId) => Promise<void>}} options actions: see message-view.js
 */
export function createRoomView ({ model, richText, actions, onRetry, onLoadEarlier }) {
  const $ = (id) => document.getElementById(id)
  const timeline = $('timeline')
  const cache = createNodeCache()
  const shown = { roomId: undefined, version: -1, loadingEarlier: false }
  const messages = createMessageView({ model, richText, actions, onRetry, onJump: jumpTo })

  function render (roomId) {
    const r = roomId ? model.rooms.get(roomId) : undefined
    const switched = shown.roomId !== roomId
    if (!switched && r && shown.version === r.version) return
    shown.roomId = roomId
    shown.version = r?.version ?? -1
    if (switched) cache.clear()

    $('composer').hidden = !r
    $('room-actions').hidden = !r
    $('room-title').textContent = r ? model.roomName(roomId) : 'No room selected'
    $('room-title').dataset.roomId = r ? roomId : ''
    $('room-title').title = r ? roomId : ''
    const topic = $('room-topic')
    topic.hidden = !r?.topic
    topic.textContent = r?.topic ?? ''
    renderMembers(r)
    renderTyping(r)
    $('members').dataset.room = r ? 'true' : 'false'
    if (!r) {
      timeline.replaceChildren(h('li', { className: 'empty' }, 'Pick a room on the left, create one, or join a public one.'))
      return
    }

    const atBottom = switched || timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 60
    const oldHeight = timeline.scrollHeight
    const oldTop = timeline.scrollTop
    const readers = readersByEvent(r)
    const nodes = []
    if (hasEarlier(r)) nodes.push(earlierButton(r))
    const keep = new Set()
    let previous = null
    for (const event of r.events) {
      const node = eventNode(r, event, readers, previous)
      if (node) {
        nodes.push(node)
        keep.add(node.dataset.key)
        previous = event
      }
    }
    for (const echo of r.pending) {
      const node = eventNode(r, echo, readers, previous)
      nodes.push(node)
      keep.add(node.dataset.key)
      previous = echo
    }
    cache.prune(keep)
    const firstBefore = timeline.querySelector('li[data-key]')
    reconcile(timeline, nodes)
    if (atBottom) {
      timeline.scrollTop = timeline.scrollHeight
    } else if (firstBefore && firstBefore !== timeline.querySelector('li[data-key]')) {
      // Older events came in above: keep what the reader looks at in place.
      timeline.scrollTop = oldTop + (timeline.scrollHeight - oldHeight)
    }
  }

  function earlierButton (r) {
    return cache.get('earlier', String(shown.loadingEarlier), () => h('li', { className: 'earlier', dataset: { key: 'earlier' } },
      h('button', {
        type: 'button',
        className: 'small',
        dataset: { testid: 'load-earlier' },
        disabled: shown.loadingEarlier || !r.prevBatch,
        onclick: async () => {
          shown.loadingEarlier = true
          shown.version = -1
          render(r.id)
          try {
            await onLoadEarlier(r.id)
          } finally {
            shown.loadingEarlier = false
            shown.version = -1
            render(shown.roomId)
          }
        }
      }, r.prevBatch ? (shown.loadingEarlier ? 'Loading…' : 'Show earlier messages') : 'Earlier messages are not available')))
  }

  /**
   * Shows the message eventId (a reply's quote was clicked): scrolls to it and
   * highlights it, paging back for it a few times if it is not loaded.
   */
  async function jumpTo (eventId, pages = 10) {
    const roomId = shown.roomId
    for (let i = 0; ; i++) {
      const target = [...timeline.querySelectorAll('[data-event-id]')].find((li) => li.dataset.eventId === eventId)
      if (target) {
        target.scrollIntoView({ block: 'center' })
        target.focus({ preventScroll: true })
        target.classList.remove('highlight')
        void target.offsetWidth // restart the highlight animation
        target.classList.add('highlight')
        return
      }
      const r = model.rooms.get(roomId)
      if (i >= pages || !r?.prevBatch || shown.roomId !== roomId) return
      await onLoadEarlier(roomId)
      render(roomId)
    }
  }

  /** event ID → users (not us, not its sender) whose read receipt is at it. */
  function readersByEvent (r) {
    const out = new Map()
    for (const [user, eventId] of r.receipts) {
      if (user === model.userId) continue
      if (!out.has(eventId)) out.set(eventId, [])
      out.get(eventId).push(user)
    }
    return out
  }

  function eventNode (r, event, readers, previous) {
    const own = event.sender === model.userId
    const txnId = event.txnId ?? (own ? event.unsigned?.transaction_id : undefined)
    const key = txnId ? `txn:${txnId}` : event.event_id
    const seenBy = (event.event_id && readers.get(event.event_id)?.filter((u) => u !== event.sender)) ?? []
    const sender = model.displayName(r.id, event.sender)
    const continued = previous && previous.type === 'm.room.message' && previous.sender === event.sender &&
      event.origin_server_ts - previous.origin_server_ts < 5 * 60000
    if (r.relations.isHidden(event.event_id)) return null
    if (event.type === 'm.room.message') {
      const delivery = own && event.event_id ? r.delivery.get(event.event_id) : undefined
      const info = { key, own, sender, seenBy, continued, delivery }
      return cache.get(key, messages.signature(r, event, info), () => messages.node(r, event, info))
    }
    const text = noticeText(r.id, event)
    if (text === null) return null
    return cache.get(key, text, () => h('li', { className: 'notice', dataset: { testid: 'notice', key, eventId: event.event_id } },
      h('span', { className: 'body' }, text), ' ', timeNode(event.origin_server_ts)))
  }

  function noticeText (roomId, event) {
    const who = (u) => model.displayName(roomId, u)
    const c = event.content ?? {}
    switch (event.type) {
      case 'm.room.create': return `${who(event.sender)} created the room`
      case 'm.room.name': return c.name ? `${who(event.sender)} named the room “${c.name}”` : `${who(event.sender)} removed the room name`
      case 'm.room.topic': return `${who(event.sender)} set the topic: ${c.topic ?? ''}`
      case 'm.room.member': {
        const target = c.displayname || who(event.state_key)
        const prev = event.unsigned?.prev_content?.membership
        switch (c.membership) {
          case 'join': return prev === 'join' ? `${target} changed their profile` : `${target} joined`
          case 'invite': return `${who(event.sender)} invited ${target}`
          case 'leave':
            if (event.sender !== event.state_key) return `${who(event.sender)} removed ${who(event.state_key)}`
            return prev === 'invite' ? `${who(event.state_key)} declined the invitation` : `${who(event.state_key)} left`
          case 'ban': return `${who(event.sender)} banned ${who(event.state_key)}`
          default: return `${target}: ${c.membership}`
        }
      }
      case 'm.room.join_rules': return `${who(event.sender)} made the room ${c.join_rule === 'public' ? 'public' : 'invite-only'}`
      default: return null
    }
  }

  function renderMembers (r) {
    const list = $('member-list')
    const members = r ? [...r.members].filter(([, m]) => m.membership === 'join' || m.membership === 'invite') : []
    members.sort(([ua, a], [ub, b]) => (a.membership === b.membership ? 0 : a.membership === 'join' ? -1 : 1) ||
      model.displayName(r.id, ua).localeCompare(model.displayName(r.id, ub)))
    $('member-count').textContent = r ? String(members.filter(([, m]) => m.membership === 'join').length) : ''
    list.replaceChildren(...members.map(([user, m]) => h('li', { dataset: { testid: 'member', userId: user, membership: m.membership } },
      h('span', { className: 'name' }, model.displayName(r.id, user), user === model.userId ? ' (you)' : ''),
      m.membership === 'invite' ? h('span', { className: 'muted' }, ' invited') : null,
      h('small', { className: 'user-id' }, user))))
  }

  function renderTyping (r) {
    const names = (r?.typing ?? []).map((u) => model.displayName(r.id, u))
    const el = $('typing')
    el.textContent = names.length === 0
      ? ''
      : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`
    el.dataset.users = (r?.typing ?? []).join(' ')
  }

  return { render, forceNext: () => { shown.version = -1 } }
}

/** Older events may exist: the server gave a token to page back from, and the room's start is not loaded. */
export function hasEarlier (r) {
  return Boolean(r.limited || r.prevBatch) && r.events[0]?.type !== 'm.room.create'
}
