/**
 * What other events say about a room's messages, aggregated by the client
 * from the events it has loaded: edits (m.replace), reactions
 * (m.annotation), redactions and thread replies (m.thread). The server's
 * bundled aggregations (unsigned.m.relations on events from /messages,
 * /relations and /threads) add what the loaded events do not show: the
 * newest edit of an old message, a thread's reply count and latest reply.
 * Pure data, for model.js.
 * Spec: https://spec.matrix.org/v1.11/client-server-api/#event-replacements
 * and #event-annotations-and-reactions, #redactions
 *
 * Events may come in any order (paging back brings older events after newer
 * ones), so everything is keyed by the target's event ID and looked up when
 * drawn, not applied to the target when it arrives.
 */

/** @returns {Relations} */
export function createRelations () {
  /** target ID → its m.replace events (any sender; checked against the target's when read) */
  const edits = new Map()
  /** target ID → key → sender → the m.reaction event's ID */
  const reactions = new Map()
  /** relation event ID → how to undo it when it is redacted */
  const relations = new Map()
  /** IDs redacted, also before their event is loaded */
  const redacted = new Set()
  /** IDs of the relation events themselves: not drawn as messages */
  const hidden = new Set()
  /** thread root ID → reply event ID → the reply (m.thread children we hold) */
  const threads = new Map()
  /** thread root ID → the server's summary {count, latest} (from a bundle) */
  const summaries = new Map()

  /**
   * Takes one timeline event. Returns true if it only relates to another
   * (an edit, a reaction, a redaction): such events are not drawn themselves.
   */
  function add (event) {
    bundled(event)
    const only = relates(event)
    if (only && event.event_id) hidden.add(event.event_id)
    return only
  }

  function relates (event) {
    const rel = event.content?.['m.relates_to']
    if (event.type === 'm.room.redaction') {
      const target = event.redacts ?? event.content?.redacts
      if (target) redact(target)
      return true
    }
    if (redacted.has(event.event_id)) return event.type === 'm.reaction' || rel?.rel_type === 'm.replace'
    if (event.type === 'm.reaction' && rel?.rel_type === 'm.annotation' && rel.event_id && typeof rel.key === 'string') {
      if (!reactions.has(rel.event_id)) reactions.set(rel.event_id, new Map())
      const byKey = reactions.get(rel.event_id)
      if (!byKey.has(rel.key)) byKey.set(rel.key, new Map())
      byKey.get(rel.key).set(event.sender, event.event_id)
      relations.set(event.event_id, () => {
        byKey.get(rel.key)?.delete(event.sender)
        if (byKey.get(rel.key)?.size === 0) byKey.delete(rel.key)
      })
      return true
    }
    if (event.type === 'm.room.message' && rel?.rel_type === 'm.replace' && rel.event_id && event.content['m.new_content']) {
      if (!edits.has(rel.event_id)) edits.set(rel.event_id, [])
      if (edits.get(rel.event_id).some((e) => e.event_id === event.event_id)) return true // bundled before
      edits.get(rel.event_id).push(event)
      relations.set(event.event_id, () => {
        const list = edits.get(rel.event_id)
        list.splice(list.indexOf(event), 1)
      })
      return true
    }
    if (rel?.rel_type === 'm.thread' && rel.event_id) {
      if (!threads.has(rel.event_id)) threads.set(rel.event_id, new Map())
      threads.get(rel.event_id).set(event.event_id, event)
      return true
    }
    return event.type === 'm.reaction'
  }

  /** What the server bundled with an event: its newest edit, its thread's summary. */
  function bundled (event) {
    const b = event.unsigned?.['m.relations']
    if (!b || !event.event_id) return
    const edit = b['m.replace']
    if (edit?.event_id && edit.content?.['m.new_content'] && !relations.has(edit.event_id)) relates(edit)
    const thread = b['m.thread']
    if (thread && typeof thread.count === 'number') summaries.set(event.event_id, { count: thread.count, latest: thread.latest_event ?? null })
  }

  function redact (eventId) {
    redacted.add(eventId)
    relations.get(eventId)?.()
    relations.delete(eventId)
  }

  /** The newest edit of `event` by its own sender, or undefined. */
  function latestEdit (event) {
    let latest
    for (const e of edits.get(event.event_id) ?? []) {
      if (e.sender === event.sender && (!latest || e.origin_server_ts >= latest.origin_server_ts)) latest = e
    }
    return latest
  }

  return {
    add,
    isHidden: (eventId) => hidden.has(eventId),
    /** What to show for a message: its newest edit's content (keeping the reply it answers), or its own. */
    content (event) {
      if (redacted.has(event.event_id)) return {}
      const edit = latestEdit(event)
      if (!edit) return event.content
      const inReplyTo = event.content?.['m.relates_to']?.['m.in_reply_to']
      return { ...edit.content['m.new_content'], ...(inReplyTo && { 'm.relates_to': { 'm.in_reply_to': inReplyTo } }) }
    },
    edited: (event) => latestEdit(event) !== undefined,
    /**
     * A thread root's replies we hold (oldest first, deleted ones left out), and how
     * many it has: the server's count plus our replies newer than its latest, or ours
     * if more. null when the event has no thread.
     */
    thread (rootId) {
      const held = [...(threads.get(rootId)?.values() ?? [])].filter((e) => !redacted.has(e.event_id))
        .sort((a, b) => a.origin_server_ts - b.origin_server_ts)
      const summary = summaries.get(rootId)
      if (held.length === 0 && !summary?.count) return null
      const since = summary?.latest?.origin_server_ts ?? Infinity
      const count = Math.max(held.length, (summary?.count ?? 0) + held.filter((e) => e.origin_server_ts > since).length)
      const latest = held.at(-1) ?? summary?.latest ?? null
      return { replies: held, count, latest }
    },
    /** Whether an event is a reply in a thread (shown in the thread, not the room's timeline). */
    inThread: (event) => event.content?.['m.relates_to']?.rel_type === 'm.thread',
    /** [{key, senders: [userId], mine: reaction event ID of ours or undefined}], first reacted first. */
    reactions (eventId, userId) {
      return [...(reactions.get(eventId) ?? [])].map(([key, bySender]) => ({ key, senders: [...bySender.keys()], mine: bySender.get(userId) }))
    }
  }
}
