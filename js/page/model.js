/**
 * The client's picture of the account's rooms, built from /sync responses and
 * local echoes. Pure data and no DOM, so node:test can drive it
 * (model.test.js); the views read it and re-render what changed.
 *
 * Every room has a `version` that grows on each change, and the model has a
 * `listVersion` that grows when anything the room list shows changes (names,
 * unread counts, invites, rooms coming and going): views compare versions
 * instead of diffing data.
 *
 * Unread counts: the server's unread_notifications.notification_count when it
 * sends a number, else counted here: messages from others after the read
 * position, which is the latest of our own m.read receipt, our own last
 * message, and the event the page last showed us (`readMarks`, kept by the
 * caller across reloads).
 *
 * Edits, reactions and redactions stay in `events` (they page and dedupe like
 * any event) and are aggregated per room in `relations` (relations.js): the
 * views draw a message with what relates to it, and skip the relations.
 */
import { createRelations } from './relations.js'

/** Events kept per room; older ones are dropped (and paged back in on demand). */
export const MAX_EVENTS = 500

/**
 * @typedef {object} Member
 * @property {string} membership join | invite | leave | ban | knock
 * @property {string|null} displayname
 * @property {string|null} avatarUrl  mxc: URI
 *
 * @typedef {object} Room
 * @property {string} id
 * @property {string|null} name       m.room.name
 * @property {string|null} topic      m.room.topic
 * @property {string|null} alias      m.room.canonical_alias
 * @property {string|null} joinRule   m.room.join_rules (public | invite | …)
 * @property {string|null} avatar     m.room.avatar (mxc: URI)
 * @property {object} powerLevels     m.room.power_levels content ({} before it is known)
 * @property {string[]} creators      from room version 12: the create event's sender and
 *   additional_creators, above every power level (empty before: creators are in powerLevels)
 * @property {number|null} serverHighlight the server's highlight count, when it sends one
 * @property {Map<string, object>} outside events shown but not in `events`: thread roots
 *   and replies fetched for the thread view (by event ID)
 * @property {Map<string, Member>} members by user ID
 * @property {object[]} events        timeline, oldest first, no duplicates
 * @property {Set<string>} ids        event IDs in `events`
 * @property {object[]} pending       local echoes not yet seen in the timeline:
 *   {txnId, type, content, sender, origin_server_ts, event_id?, failed?}
 * @property {boolean} limited        older events exist that are not loaded
 * @property {string|null} prevBatch  token to page back from the oldest loaded event
 * @property {string[]} typing        users typing now (never us)
 * @property {Map<string, string>} receipts user ID -> event ID of their m.read receipt
 * @property {number|null} serverUnread the server's notification count, when it sends one
 * @property {Map<string, {state: string, waiting?: object}>} delivery event ID -> where our message is
 *   on its way to the room's other servers (org.hearth.delivery)
 * @property {object} relations      edits, reactions, redactions by target (relations.js)
 * @property {number} version         grows on every change
 */

/**
 * @param {{userId: string, readMarks?: {get(roomId): string|null|undefined}, ownName?: () => string|null}} options
 *   ownName: our display name, for rooms whose member event has none
 */
export function createModel ({ userId, readMarks = new Map(), ownName = () => null }) {
  /** @type {Map<string, Room>} */
  const rooms = new Map()
  /** @type {Map<string, {id, name, inviter, topic, isDirect, version}>} */
  const invites = new Map()
  /** {name, pattern}: the last display name mentionsMe looked for */
  let nameWord = null
  const model = {
    userId, rooms, invites, listVersion: 0, applySync, room, addEcho, echoSent, echoFailed, unread, markRead, roomName, displayName, prependEvents, setDelivery, hasOtherServers, event, isMessage: (roomId, e) => rooms.has(roomId) && isMessage(rooms.get(roomId), e), totalUnread, readMarkers,
    addOutside, powerLevel, canSend, mentionsMe, highlights, avatarUrl: (roomId, user) => rooms.get(roomId)?.members.get(user)?.avatarUrl ?? null
  }

  function room (id) {
    let r = rooms.get(id)
    if (!r) {
      r = {
        id, name: null, topic: null, alias: null, joinRule: null, avatar: null, powerLevels: {}, creators: [], serverHighlight: null, outside: new Map(), members: new Map(),
        events: [], ids: new Set(), pending: [], limited: false, prevBatch: null,
        typing: [], receipts: new Map(), delivery: new Map(), relations: createRelations(), serverUnread: null, version: 0
      }
      rooms.set(id, r)
      model.listVersion++
    }
    return r
  }

  function applyState (r, event) {
    if (typeof event.state_key !== 'string') return
    const c = event.content ?? {}
    switch (event.type) {
      case 'm.room.name': r.name = c.name || null; break
      case 'm.room.topic': r.topic = c.topic || null; break
      case 'm.room.canonical_alias': r.alias = c.alias || null; break
      case 'm.room.join_rules': r.joinRule = c.join_rule ?? null; break
      case 'm.room.avatar': r.avatar = typeof c.url === 'string' && c.url ? c.url : null; break
      case 'm.room.power_levels': r.powerLevels = c; break
      case 'm.room.create':
        // Room version 12 (and later versions that keep the rule): creators are privileged.
        if (/^\d+$/.test(c.room_version ?? '') && Number(c.room_version) >= 12) {
          r.creators = [event.sender, ...(Array.isArray(c.additional_creators) ? c.additional_creators : [])]
        }
        break
      case 'm.room.member':
        r.members.set(event.state_key, {
          membership: c.membership ?? 'leave',
          displayname: typeof c.displayname === 'string' && c.displayname ? c.displayname : null,
          avatarUrl: typeof c.avatar_url === 'string' && c.avatar_url ? c.avatar_url : null
        })
        break
    }
  }

  /** Adds a timeline event; false if it was already there. */
  function addEvent (r, event) {
    if (event.event_id && r.ids.has(event.event_id)) return false
    const txnId = event.unsigned?.transaction_id
    const echo = r.pending.findIndex((e) => (txnId && e.txnId === txnId) || (e.event_id && e.event_id === event.event_id))
    if (echo >= 0) r.pending.splice(echo, 1)
    if (event.event_id) r.ids.add(event.event_id)
    r.events.push(event)
    r.relations.add(event)
    // What a member event changed, when the server sent no prev_content: the member as we knew them.
    if (event.type === 'm.room.member' && !event.unsigned?.prev_content && r.members.has(event.state_key)) {
      event.previousMember = r.members.get(event.state_key)
    }
    applyState(r, event)
    return true
  }

  function trim (r) {
    if (r.events.length <= MAX_EVENTS) return
    for (const e of r.events.splice(0, r.events.length - MAX_EVENTS)) r.ids.delete(e.event_id)
    r.limited = true
    r.prevBatch = null // the token pointed before the dropped events
  }

  /**
   * Applies one /sync response.
   * @returns {{changed: Set<string>, left: string[]}} rooms whose view must update, rooms we left
   */
  function applySync (res) {
    const changed = new Set()
    const listBefore = listSignature()
    for (const [id, joined] of Object.entries(res.rooms?.join ?? {})) {
      if (invites.delete(id)) model.listVersion++
      const r = room(id)
      for (const event of joined.state?.events ?? []) applyState(r, event)
      const timeline = joined.timeline ?? {}
      if (timeline.limited) {
        // A gap: what we hold is no longer contiguous with what follows.
        if (r.events.length > 0) {
          r.events = []
          r.ids.clear()
        }
        r.limited = true
        r.prevBatch = timeline.prev_batch ?? null
      } else if (r.events.length === 0 && timeline.prev_batch) {
        r.prevBatch = timeline.prev_batch
      }
      for (const event of timeline.events ?? []) addEvent(r, event)
      trim(r)
      for (const event of joined.ephemeral?.events ?? []) applyEphemeral(r, event)
      const count = joined.unread_notifications?.notification_count
      if (typeof count === 'number') r.serverUnread = count
      const highlight = joined.unread_notifications?.highlight_count
      if (typeof highlight === 'number') r.serverHighlight = highlight
      r.version++
      changed.add(id)
    }
    for (const [id, invited] of Object.entries(res.rooms?.invite ?? {})) {
      invites.set(id, inviteFrom(id, invited.invite_state?.events ?? []))
      model.listVersion++
    }
    const left = []
    for (const id of Object.keys(res.rooms?.leave ?? {})) {
      if (invites.delete(id)) model.listVersion++
      if (rooms.delete(id)) {
        model.listVersion++
        left.push(id)
      }
    }
    if (listSignature() !== listBefore) model.listVersion++
    return { changed, left }
  }

  function inviteFrom (id, stripped) {
    const inv = { id, name: null, topic: null, inviter: null, inviterName: null, isDirect: false, alias: null }
    const names = new Map()
    for (const e of stripped) {
      const c = e.content ?? {}
      if (e.type === 'm.room.name') inv.name = c.name || null
      if (e.type === 'm.room.topic') inv.topic = c.topic || null
      if (e.type === 'm.room.canonical_alias') inv.alias = c.alias || null
      if (e.type === 'm.room.member') {
        if (c.displayname) names.set(e.state_key, c.displayname)
        if (e.state_key === userId && c.membership === 'invite') {
          inv.inviter = e.sender
          inv.isDirect = Boolean(c.is_direct)
        }
      }
    }
    if (inv.inviter) inv.inviterName = names.get(inv.inviter) ?? null
    return inv
  }

  function applyEphemeral (r, event) {
    if (event.type === 'm.typing') {
      r.typing = (event.content?.user_ids ?? []).filter((u) => u !== userId)
    } else if (event.type === 'm.receipt') {
      for (const [eventId, types] of Object.entries(event.content ?? {})) {
        for (const [type, users] of Object.entries(types ?? {})) {
          if (type !== 'm.read' && type !== 'm.read.private') continue
          for (const user of Object.keys(users ?? {})) {
            // A receipt never moves back: keep the later of the two we know.
            const old = r.receipts.get(user)
            if (old === undefined || position(r, eventId) >= position(r, old)) r.receipts.set(user, eventId)
          }
        }
      }
    }
  }

  /** Index of an event in the loaded timeline; -1 when not loaded (older). */
  function position (r, eventId) {
    if (!eventId || !r.ids.has(eventId)) return -1
    for (let i = r.events.length - 1; i >= 0; i--) if (r.events[i].event_id === eventId) return i
    return -1
  }

  /** Older events from /messages (dir=b, newest first), added at the front. */
  function prependEvents (roomId, chunk, end) {
    const r = rooms.get(roomId)
    if (!r) return
    const older = []
    for (const event of chunk) {
      if (event.event_id && r.ids.has(event.event_id)) continue
      if (event.event_id) r.ids.add(event.event_id)
      r.relations.add(event)
      older.unshift(event)
    }
    r.events = [...older, ...r.events]
    r.prevBatch = end ?? null
    r.limited = Boolean(end) && chunk.length > 0
    r.version++
  }

  function listSignature () {
    return JSON.stringify([...rooms.values()].map((r) => [r.id, roomName(r.id), unread(r.id), highlights(r.id), r.joinRule, r.avatar, r.events.at(-1)?.origin_server_ts]))
  }

  // ---- local echo ----

  function addEcho (roomId, { txnId, type = 'm.room.message', content, now }) {
    const r = rooms.get(roomId)
    const echo = { txnId, type, content, sender: userId, origin_server_ts: now, pending: true }
    r.pending.push(echo)
    r.version++
    return echo
  }

  function echoSent (roomId, echo, eventId) {
    const r = rooms.get(roomId)
    if (!r) return
    if (r.ids.has(eventId)) {
      // The sync loop was faster than the send's answer.
      const i = r.pending.indexOf(echo)
      if (i >= 0) r.pending.splice(i, 1)
    } else {
      echo.event_id = eventId
      echo.failed = undefined
    }
    r.version++
  }

  /** Records where one of our events is; true if that changed what the room shows. */
  function setDelivery (roomId, eventId, info) {
    const r = rooms.get(roomId)
    if (!r || JSON.stringify(r.delivery.get(eventId)) === JSON.stringify(info)) return false
    r.delivery.set(eventId, info)
    r.version++
    return true
  }

  /** Whether anyone joined or invited to the room is on another server than ours. */
  function hasOtherServers (roomId) {
    const r = rooms.get(roomId)
    const own = serverOf(userId)
    for (const [user, m] of r?.members ?? []) {
      if ((m.membership === 'join' || m.membership === 'invite') && serverOf(user) !== own) return true
    }
    return false
  }

  function echoFailed (roomId, echo, message) {
    const r = rooms.get(roomId)
    if (!r) return
    echo.failed = message
    r.version++
  }

  // ---- reading ----

  /** The index of the last event we have read in the loaded timeline, or -1. */
  function readIndex (r) {
    let read = Math.max(position(r, r.receipts.get(userId)), position(r, readMarks.get(r.id)))
    for (let i = r.events.length - 1; i > read; i--) {
      if (r.events[i].sender === userId) {
        read = i
        break
      }
    }
    return read
  }

  function unread (roomId) {
    const r = rooms.get(roomId)
    if (!r) return 0
    if (r.serverUnread !== null) return r.serverUnread
    let n = 0
    for (let i = readIndex(r) + 1; i < r.events.length; i++) {
      const e = r.events[i]
      if (isMessage(r, e) && e.sender !== userId) n++
    }
    return n
  }

  /** The events up to which we have read the room, as far as we know: our m.read receipt, the page's read mark. */
  function readMarkers (roomId) {
    return [rooms.get(roomId)?.receipts.get(userId), readMarks.get(roomId)].filter(Boolean)
  }

  function totalUnread () {
    let n = 0
    for (const id of rooms.keys()) n += unread(id)
    return n
  }

  /**
   * The user saw the room up to its newest event: returns that event's ID
   * (for a receipt and the caller's readMarks), or null if nothing new.
   */
  function markRead (roomId) {
    const r = rooms.get(roomId)
    if (!r || r.events.length === 0) return null
    const last = r.events[r.events.length - 1]
    const before = unread(roomId)
    if (r.serverUnread !== null) r.serverUnread = 0
    if (r.serverHighlight !== null) r.serverHighlight = 0
    if (r.receipts.get(userId) === last.event_id) return null
    r.receipts.set(userId, last.event_id)
    r.version++
    if (before !== 0) model.listVersion++
    return last.event_id
  }

  /** A message a person wrote and can see: not deleted, not an edit of another. */
  function isMessage (r, e) {
    return e.type === 'm.room.message' && !r.relations.isHidden(e.event_id) && r.relations.content(e)?.body !== undefined
  }

  /** A loaded event by ID (timeline, or fetched for a thread), or undefined. */
  function event (roomId, eventId) {
    const r = rooms.get(roomId)
    const i = r ? position(r, eventId) : -1
    return i >= 0 ? r.events[i] : r?.outside.get(eventId)
  }

  /**
   * Events fetched outside the timeline (a thread's root and replies from
   * /relations, roots from /threads): aggregated, and kept for the thread view.
   */
  function addOutside (roomId, events) {
    const r = rooms.get(roomId)
    if (!r) return
    for (const e of events) {
      if (!e?.event_id) continue
      r.relations.add(e)
      if (!r.ids.has(e.event_id)) r.outside.set(e.event_id, e)
    }
    r.version++
  }

  // ---- power ----

  /** A user's power level in a room (spec: users[id], else users_default, else 0; a v12 creator: Infinity). */
  function powerLevel (roomId, user) {
    if (rooms.get(roomId)?.creators.includes(user)) return Infinity
    const pl = rooms.get(roomId)?.powerLevels ?? {}
    const v = pl.users?.[user] ?? pl.users_default ?? 0
    return Number.isInteger(v) ? v : 0
  }

  /** Whether we may send a state event of this type (spec: events[type], else state_default, else 50). */
  function canSend (roomId, type) {
    const pl = rooms.get(roomId)?.powerLevels ?? {}
    const needed = pl.events?.[type] ?? pl.state_default ?? 50
    return powerLevel(roomId, userId) >= needed
  }

  // ---- mentions ----

  /**
   * Whether a message is for us: m.mentions names us, or (from clients without
   * m.mentions) its text has our user ID or display name as a word.
   */
  function mentionsMe (roomId, content) {
    if (!content) return false
    const mentions = content['m.mentions']
    if (mentions && typeof mentions === 'object') return Array.isArray(mentions.user_ids) && mentions.user_ids.includes(userId)
    const text = `${typeof content.body === 'string' ? content.body : ''} ${typeof content.formatted_body === 'string' ? content.formatted_body : ''}`
    if (text.includes(userId)) return true
    const name = displayName(roomId, userId)
    return Boolean(name) && wordPattern(name).test(text)
  }

  /** Our display name as a whole word, case-insensitive; made once per name (a long room asks it per message). */
  function wordPattern (name) {
    if (nameWord?.name !== name) nameWord = { name, pattern: new RegExp(`(^|[^\\p{L}\\p{N}_])${escapeRegExp(name)}($|[^\\p{L}\\p{N}_])`, 'iu') }
    return nameWord.pattern
  }

  /**
   * Unread messages that mention us: the larger of the server's highlight count
   * (push rules; it may count what is not loaded, or send 0 when it evaluates none)
   * and those counted here in the loaded timeline.
   */
  function highlights (roomId) {
    const r = rooms.get(roomId)
    if (!r) return 0
    let n = 0
    for (let i = readIndex(r) + 1; i < r.events.length; i++) {
      const e = r.events[i]
      if (isMessage(r, e) && e.sender !== userId && mentionsMe(roomId, r.relations.content(e))) n++
    }
    return Math.max(n, r.serverHighlight ?? 0)
  }

  // ---- names ----

  function displayName (roomId, user) {
    const m = rooms.get(roomId)?.members.get(user)
    return m?.displayname || (user === userId && ownName()) || localpart(user)
  }

  function roomName (roomId) {
    const r = rooms.get(roomId)
    if (!r) return invites.get(roomId)?.name ?? roomId
    if (r.name) return r.name
    if (r.alias) return r.alias
    const others = [...r.members].filter(([u, m]) => u !== userId && (m.membership === 'join' || m.membership === 'invite'))
    if (others.length > 0) {
      const names = others.slice(0, 3).map(([u]) => displayName(roomId, u))
      return names.join(', ') + (others.length > 3 ? ` and ${others.length - 3} others` : '')
    }
    return 'Empty room'
  }

  return model
}

function escapeRegExp (text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** "@alice:server" → "alice". */
export function localpart (userId = '') {
  const colon = userId.indexOf(':')
  return userId.startsWith('@') && colon > 0 ? userId.slice(1, colon) : userId
}

/** The server part of a Matrix ID ("@alice:server" or "!room:server"). */
export function serverOf (id = '') {
  const colon = id.indexOf(':')
  return colon >= 0 ? id.slice(colon + 1) : ''
}

/**
 * A user ID localpart from a display name: lower case, only the characters
 * the spec allows (a-z 0-9 . _ = - /), at most 32 of them; '' if none is left.
 * Spec: https://spec.matrix.org/v1.11/appendices/#user-identifiers
 */
export function localpartFrom (displayName) {
  return displayName.normalize('NFKD').toLowerCase()
    .replace(/\s+/g, '.')
    .replace(/[^a-z0-9._=\-/]/g, '')
    .replace(/\.{2,}/g, '.')
    .replace(/^[.]+|[.]+$/g, '')
    .slice(0, 32)
}
