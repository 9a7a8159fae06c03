/**
 * The open room: header (name, topic), timeline, member list, typing line.
 * Renders incrementally: timeline items are cached by key (event ID, or the
 * transaction ID of our own messages, so a local echo's node becomes the sent
 * message's node) and only items whose content changed are rebuilt.
 *
 * History loads by itself: whenever the top of the timeline is within
 * LOAD_MARGIN of being seen (scrolled there, or a room too short to scroll),
 * the next older page is asked for, and the reader's place is kept. A room
 * opened with unread messages gets a "New messages" divider above the first
 * of them, there until another room is opened; "Jump to latest" shows while
 * the newest message is out of sight.
 */
import { h, reconcile, createNodeCache } from './dom.js'
import { createMessageView, timeNode } from './message-view.js'
import { avatarNode } from './avatar.js'

/** The power levels offered in the member list; others are shown by number. */
export const ROLES = [[100, 'Admin'], [50, 'Moderator'], [0, 'Member']]

/** px from the top of the timeline within which older messages are fetched. */
const LOAD_MARGIN = 400
/** px from the bottom beyond which "Jump to latest" shows. */
const JUMP_MARGIN = 200

/**
 * @param {{model: object, richText: {render: (content) => Node[]}, actions: object, onRetry: (roomId, echo) => void,
 *   onLoadEarlier: (roomId) => Promise<void>, onSetPower: (roomId, userId, level) => Promise<void>}} options
 *   actions: see message-view.js; onSetPower: an admin changes a member's power level (resolves to false if refused)
 */
export function createRoomView ({ model, richText, actions, onRetry, onLoadEarlier, onSetPower }) {
  const $ = (id) => document.getElementById(id)
  const timeline = $('timeline')
  const cache = createNodeCache()
  const memberCache = createNodeCache()
  /**
   * loadingEarlier: a page of history is on its way; historyError: why the last one failed
   * (scrolling retries); exhausted: a page brought nothing, stop asking in this room;
   * divider: {markers, lastId, beforeId} when the room was opened: the events up to which we
   * had read (our receipt, the page's read mark), the newest event, and once found, the
   * event the divider goes above (null: nothing was unread);
   * opened: the room whose events were drawn once since it was selected
   */
  const shown = { roomId: undefined, version: -1, loadingEarlier: false, historyError: null, exhausted: false, divider: null, opened: null }
  const messages = createMessageView({ model, richText, actions, onRetry, onJump: jumpTo })
  const jump = $('jump-latest')
  timeline.addEventListener('scroll', () => {
    if (timeline.scrollTop < LOAD_MARGIN) loadEarlier()
    showJump()
  }, { passive: true })
  jump.addEventListener('click', () => {
    timeline.scrollTop = timeline.scrollHeight
    showJump()
  })

  function render (roomId) {
    const r = roomId ? model.rooms.get(roomId) : undefined
    const switched = shown.roomId !== roomId
    if (!switched && r && shown.version === r.version) return
    shown.roomId = roomId
    shown.version = r?.version ?? -1
    if (switched) {
      cache.clear()
      Object.assign(shown, { historyError: null, exhausted: false, divider: null, opened: null })
    }
    // The first render with the room's events (at start-up the selected room comes with the first sync).
    const opened = r && shown.opened !== roomId
    if (opened) {
      shown.opened = roomId
      shown.divider = { markers: new Set(model.readMarkers(roomId)), lastId: r.events.at(-1)?.event_id, beforeId: undefined }
    }

    $('composer').hidden = !r
    $('room-actions').hidden = !r
    $('room-title').textContent = r ? model.roomName(roomId) : 'No room selected'
    $('room-title').dataset.roomId = r ? roomId : ''
    $('room-title').title = r ? roomId : ''
    const name = r ? model.roomName(roomId) : ''
    $('room-avatar').replaceChildren(...(r ? [avatarNode({ id: roomId, name, url: r.avatar, size: 36, testid: 'room-avatar-image' })] : []))
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

    const atBottom = opened || timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 60
    const oldHeight = timeline.scrollHeight
    const oldTop = timeline.scrollTop
    const readers = readersByEvent(r)
    const nodes = []
    if (hasEarlier(r)) nodes.push(historyStatus(r))
    const keep = new Set()
    let previous = null
    const dividerBefore = findDivider(r)
    for (const event of r.events) {
      const node = eventNode(r, event, readers, previous)
      if (node) {
        if (event.event_id === dividerBefore) nodes.push(cache.get('divider', '', () => h('li', { className: 'divider', dataset: { testid: 'new-messages' }, role: 'separator' }, h('span', {}, 'New messages'))))
        nodes.push(node)
        keep.add(node.dataset.key)
        previous = event
      }
    }
    for (const echo of r.pending) {
      if (r.relations.inThread(echo)) continue // shown in its thread
      const node = eventNode(r, echo, readers, previous)
      nodes.push(node)
      keep.add(node.dataset.key)
      previous = echo
    }
    if (dividerBefore) keep.add('divider')
    cache.prune(keep)
    const firstBefore = timeline.querySelector('li[data-key]')
    reconcile(timeline, nodes)
    if (opened && dividerBefore) {
      timeline.querySelector('[data-testid=new-messages]').scrollIntoView({ block: 'start' })
    } else if (atBottom) {
      timeline.scrollTop = timeline.scrollHeight
    } else if (firstBefore && firstBefore !== timeline.querySelector('li[data-key]')) {
      // Older events came in above: keep what the reader looks at in place.
      timeline.scrollTop = oldTop + (timeline.scrollHeight - oldHeight)
    }
    showJump()
    // The top is (almost) in sight: a short room, or the reader is up there.
    if (timeline.scrollTop < LOAD_MARGIN) loadEarlier()
  }

  /** The top of the timeline while older messages exist: loading, failed, or unavailable. */
  function historyStatus (r) {
    const text = shown.loadingEarlier
      ? 'Loading earlier messages…'
      : shown.historyError ? `Could not load earlier messages (${shown.historyError}); scroll up to try again`
        : r.prevBatch && !shown.exhausted ? '' : 'Earlier messages are not available'
    return cache.get('history', text, () => h('li', { className: 'history', dataset: { testid: 'history-status' }, 'aria-live': 'polite' }, text))
  }

  /** Asks for the next older page, unless one is on its way or there is none. */
  async function loadEarlier () {
    const r = model.rooms.get(shown.roomId)
    if (!r || shown.loadingEarlier || shown.exhausted || !r.prevBatch || !hasEarlier(r)) return
    const before = r.events.length
    shown.loadingEarlier = true
    shown.historyError = null
    rerender()
    try {
      await onLoadEarlier(r.id)
      if (model.rooms.get(r.id)?.events.length === before) shown.exhausted = true
    } catch (err) {
      shown.historyError = err.message
    } finally {
      shown.loadingEarlier = false
      rerender()
    }
  }

  function rerender () {
    shown.version = -1
    render(shown.roomId)
  }

  /**
   * The event the "New messages" divider goes above: the oldest message from
   * others after where we had read when the room was opened. Found once the
   * read point (or the room's start) is loaded; until then, none.
   */
  function findDivider (r) {
    const d = shown.divider
    if (!d || d.beforeId !== undefined) return d?.beforeId ?? null
    let oldestUnread = null
    for (let i = r.events.findLastIndex((e) => e.event_id === d.lastId); i >= 0; i--) {
      const e = r.events[i]
      if (d.markers.has(e.event_id) || e.sender === model.userId) {
        d.beforeId = oldestUnread
        return oldestUnread
      }
      if (model.isMessage(r.id, e)) oldestUnread = e.event_id
    }
    if (!hasEarlier(r)) d.beforeId = oldestUnread
    return d.beforeId ?? null
  }

  function showJump () {
    jump.hidden = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < JUMP_MARGIN
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
      case 'm.room.avatar': return c.url ? `${who(event.sender)} changed the room's picture` : `${who(event.sender)} removed the room's picture`
      case 'm.room.member': {
        const target = c.displayname || who(event.state_key)
        const before = event.unsigned?.prev_content ?? (event.previousMember && { membership: event.previousMember.membership, displayname: event.previousMember.displayname, avatar_url: event.previousMember.avatarUrl })
        const prev = before?.membership
        switch (c.membership) {
          case 'join':
            if (prev !== 'join') return `${target} joined`
            if ((before.displayname || null) !== (c.displayname || null)) return `${before.displayname || who(event.state_key)} is now ${target}`
            if ((before.avatar_url || null) !== (c.avatar_url || null)) return `${target} changed their picture`
            return `${target} changed their profile`
          case 'invite': return `${who(event.sender)} invited ${target}`
          case 'leave': {
            // A leave carries no name: the one they had.
            const name = before?.displayname || who(event.state_key)
            if (event.sender !== event.state_key) return `${who(event.sender)} removed ${name}`
            return prev === 'invite' ? `${name} declined the invitation` : `${name} left`
          }
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
    const mine = r ? model.powerLevel(r.id, model.userId) : 0
    const mayChange = r && model.canSend(r.id, 'm.room.power_levels')
    reconcile(list, members.map(([user, m]) => {
      const name = model.displayName(r.id, user)
      const level = model.powerLevel(r.id, user)
      // Spec: only up to our own level, and only for those below us (or ourselves, to step down); a creator's is fixed.
      const editable = mayChange && level !== Infinity && (user === model.userId || level < mine)
      const key = `${r.id}|${user}`
      return memberCache.get(key, JSON.stringify([name, m, level, editable, mine]), () => h('li', { dataset: { testid: 'member', userId: user, membership: m.membership, power: String(level) } },
        avatarNode({ id: user, name, url: m.avatarUrl, size: 28 }),
        h('div', { className: 'who' },
          h('span', { className: 'name' }, name, user === model.userId ? ' (you)' : ''),
          m.membership === 'invite' ? h('span', { className: 'muted' }, ' invited') : null,
          h('small', { className: 'user-id' }, user)),
        editable ? powerSelect(r.id, user, name, level, mine) : h('span', { className: 'role', dataset: { testid: 'member-role' } }, roleName(level))))
    }))
    memberCache.prune(new Set(members.map(([user]) => `${r.id}|${user}`)))
  }

  function powerSelect (roomId, user, name, level, mine) {
    const choices = ROLES.filter(([v]) => v <= mine)
    if (!choices.some(([v]) => v === level)) choices.push([level, `Custom (${level})`])
    return h('select', {
      className: 'role',
      dataset: { testid: 'member-power' },
      'aria-label': `Role of ${name}`,
      onchange: (e) => {
        const select = e.currentTarget
        select.disabled = true
        onSetPower(roomId, user, Number(select.value)).then((ok) => {
          select.disabled = false
          if (!ok) select.value = String(level)
        })
      }
    }, choices.map(([v, label]) => h('option', { value: String(v), selected: v === level }, label)))
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

/** "Creator" (room version 12), "Admin", "Moderator", "Member", or the number. */
export function roleName (level) {
  if (level === Infinity) return 'Creator'
  return ROLES.find(([v]) => v === level)?.[1] ?? `Power ${level}`
}

/** Older events may exist: the server gave a token to page back from, and the room's start is not loaded. */
export function hasEarlier (r) {
  return Boolean(r.limited || r.prevBatch) && r.events[0]?.type !== 'm.room.create'
}
