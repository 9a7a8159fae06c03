/**
 * What other events say about a room's messages, aggregated by the client
 * from the timeline it has loaded (the server has no relations endpoint and
 * sends no aggregations in unsigned yet): edits (m.replace), reactions
 * (m.annotation) and redactions. Pure data, for model.js.
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

  /**
   * Takes one timeline event. Returns true if it only relates to another
   * (an edit, a reaction, a redaction): such events are not drawn themselves.
   */
  function add (event) {
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
      edits.get(rel.event_id).push(event)
      relations.set(event.event_id, () => {
        const list = edits.get(rel.event_id)
        list.splice(list.indexOf(event), 1)
      })
      return true
    }
    return event.type === 'm.reaction'
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
    /** [{key, senders: [userId], mine: reaction event ID of ours or undefined}], first reacted first. */
    reactions (eventId, userId) {
      return [...(reactions.get(eventId) ?? [])].map(([key, bySender]) => ({ key, senders: [...bySender.keys()], mine: bySender.get(userId) }))
    }
  }
}
