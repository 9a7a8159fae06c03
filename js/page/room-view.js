/**
 * The open room: header (name, topic), timeline, member list, typing line.
 * Renders incrementally: timeline items are cached by key (event ID, or the
 * transaction ID of our own messages, so a local echo's node becomes the sent
 * message's node) and only items whose content changed are rebuilt.
 */
import { h, reconcile, createNodeCache } from './dom.js'

/**
 * @param {{model: object, richText: {render: (content) => Node[]}, onRetry: (roomId, echo) => void, onLoadEarlier: (roomId) => Promise<void>}} options
 */
export function createRoomView ({ model, richText, onRetry, onLoadEarlier }) {
  const $ = (id) => document.getElementById(id)
  const timeline = $('timeline')
  const cache = createNodeCache()
  const shown = { roomId: undefined, version: -1, loadingEarlier: false }

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
    if (event.type === 'm.room.message') {
      const delivery = own && event.event_id ? r.delivery.get(event.event_id) : undefined
      const signature = JSON.stringify([event.pending && !event.event_id, event.failed, event.event_id, sender, seenBy.map((u) => model.displayName(r.id, u)), continued, event.content, delivery])
      return cache.get(key, signature, () => messageNode(r, event, { key, own, sender, seenBy, continued, delivery }))
    }
    const text = noticeText(r.id, event)
    if (text === null) return null
    return cache.get(key, text, () => h('li', { className: 'notice', dataset: { testid: 'notice', key, eventId: event.event_id } },
      h('span', { className: 'body' }, text), ' ', timeNode(event.origin_server_ts)))
  }

  function messageNode (r, event, { key, own, sender, seenBy, continued, delivery }) {
    const pending = Boolean(event.pending && !event.event_id)
    const body = event.content?.body
    return h('li', {
      className: `message${own ? ' own' : ''}${continued ? ' continued' : ''}${body === undefined ? ' redacted' : ''}`,
      dataset: {
        testid: 'message', key, own: String(own), pending: String(pending), failed: String(Boolean(event.failed)),
        eventId: event.event_id, txnId: event.txnId ?? event.unsigned?.transaction_id,
        ...(delivery && { delivery: delivery.state })
      }
    },
    h('div', { className: 'meta' },
      h('span', { className: 'sender', title: event.sender, dataset: { testid: 'message-sender' } }, own ? `${sender} (you)` : sender),
      ' ', timeNode(event.origin_server_ts),
      pending && !event.failed ? h('span', { className: 'state', dataset: { testid: 'message-state' } }, ' sending…') : null,
      delivery ? h('span', { className: `delivery ${delivery.state}`, dataset: { testid: 'message-delivery' }, title: deliveryTitle(delivery) }, ` ${deliveryText(delivery)}`) : null),
    messageBody(event.content, sender),
    event.failed
      ? h('div', { className: 'failed', dataset: { testid: 'message-failed' } }, `Not sent: ${event.failed} `,
        h('button', { type: 'button', className: 'small', dataset: { testid: 'message-retry' }, onclick: () => onRetry(r.id, event) }, 'Retry'))
      : null,
    seenBy.length > 0
      ? h('div', { className: 'seen', dataset: { testid: 'read-receipt' }, title: seenBy.join(', ') },
        `Seen by ${seenBy.map((u) => model.displayName(r.id, u)).join(', ')}`)
      : null)
  }

  function messageBody (content, sender) {
    if (typeof content?.body !== 'string') return h('div', { className: 'body', dataset: { testid: 'message-body' } }, '(message deleted)')
    const html = content.format === 'org.matrix.custom.html'
    return h('div', { className: `body${html ? ' html' : ''}`, dataset: { testid: 'message-body' } },
      content.msgtype === 'm.emote' ? `* ${sender} ` : null,
      richText.render(content))
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

/**
 * Where an own message is on its way to the room's other servers, in a few
 * words: "delivered", "waiting for 1 server, in its mailbox".
 */
export function deliveryText ({ state, waiting = {} }) {
  if (state === 'delivered') return '✓ delivered'
  const servers = Object.values(waiting)
  const n = servers.length
  const inMailbox = servers.filter((s) => s === 'mailbox').length
  const count = `${n} server${n === 1 ? '' : 's'}`
  if (inMailbox === n) return `waiting for ${count}, in ${n === 1 ? 'its mailbox' : 'their mailboxes'}`
  if (inMailbox === 0) return `waiting for ${count} to come online`
  return `waiting for ${count}: ${inMailbox} in ${inMailbox === 1 ? 'its mailbox' : 'their mailboxes'}, ${n - inMailbox} not reached yet`
}

function deliveryTitle ({ state, waiting = {} }) {
  if (state === 'delivered') return 'Every other server in the room has it'
  return Object.entries(waiting).map(([server, where]) =>
    `${server}: ${where === 'mailbox' ? 'in its mailbox on the relay, until it comes online' : 'queued on this server, not reached yet'}`).join('\n')
}

function timeNode (ts) {
  if (!ts) return null
  const d = new Date(ts)
  const sameDay = d.toDateString() === new Date().toDateString()
  const text = sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, text)
}
