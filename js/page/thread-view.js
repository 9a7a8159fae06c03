/**
 * The thread panel beside the timeline: either the room's threads (from the
 * server's /threads, latest activity first, each with its reply count), or
 * one thread: its root, its replies (from /relations, then live from /sync)
 * and a composer that replies in it (m.thread). Closing it, or opening
 * another room, leaves the timeline alone.
 * Spec: https://spec.matrix.org/v1.11/client-server-api/#threading
 */
import { h, reconcile, createNodeCache } from './dom.js'
import { createMessageView } from './message-view.js'

/**
 * @param {{model: object, richText: object, actions: object, onRetry: (roomId, echo) => void,
 *   loadThread: (roomId, rootId) => Promise<void>, loadThreads: (roomId) => Promise<string[]>,
 *   onSend: (roomId, rootId, text) => void, signal: AbortSignal}} options
 *   loadThread: fetches the root and its replies into the model; loadThreads: the room's thread roots (IDs)
 */
export function createThreadView ({ model, richText, actions, onRetry, loadThread, loadThreads, onSend, signal }) {
  const $ = (id) => document.getElementById(id)
  const panel = $('thread')
  const list = $('thread-timeline')
  const input = $('thread-input')
  const cache = createNodeCache()
  const messages = createMessageView({
    model,
    richText,
    // A reply inside a thread is the next message of the thread.
    actions: { ...actions, reply: () => input.focus(), thread: undefined },
    onRetry,
    onJump: (eventId) => list.querySelector(`[data-event-id="${CSS.escape(eventId)}"]`)?.scrollIntoView({ block: 'center' })
  })
  /** roomId; rootId (null: the list of threads); roots: IDs from /threads; status: loading or failure text */
  const shown = { roomId: null, rootId: null, roots: [], status: '', version: -1 }

  const on = (target, type, fn) => target.addEventListener(type, fn, { signal })
  on($('thread-close'), 'click', close)
  on($('thread-composer'), 'submit', (event) => {
    event.preventDefault()
    const text = input.value
    if (!text.trim() || !shown.rootId) return
    input.value = ''
    onSend(shown.roomId, shown.rootId, text)
  })
  on(input, 'keydown', (event) => {
    if (event.key === 'Escape') close()
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return
    event.preventDefault()
    $('thread-composer').requestSubmit()
  })

  async function load (what, fn) {
    shown.status = `Loading ${what}…`
    draw()
    try {
      await fn()
      shown.status = ''
    } catch (err) {
      shown.status = `Could not load ${what}: ${err.message}`
    }
    shown.version = -1
    draw()
  }

  /** Opens one thread: rootId is its first message. */
  function open (roomId, rootId) {
    Object.assign(shown, { roomId, rootId, version: -1 })
    cache.clear()
    panel.hidden = false
    input.focus()
    return load('the thread', () => loadThread(roomId, rootId))
  }

  /** Opens the room's list of threads. */
  function openList (roomId) {
    Object.assign(shown, { roomId, rootId: null, roots: [], version: -1 })
    cache.clear()
    panel.hidden = false
    return load('the threads', async () => { shown.roots = await loadThreads(roomId) })
  }

  function close () {
    shown.roomId = null
    panel.hidden = true
    cache.clear()
    list.replaceChildren()
  }

  /** Follows the model: called on every render of the open room. */
  function render (roomId) {
    if (shown.roomId && shown.roomId !== roomId) close()
    const r = model.rooms.get(roomId)
    if (!shown.roomId || !r || shown.version === r.version) return
    shown.version = r.version
    draw()
  }

  function draw () {
    const r = model.rooms.get(shown.roomId)
    if (!r) return
    $('thread-title').textContent = shown.rootId ? 'Thread' : 'Threads'
    $('thread-composer').hidden = !shown.rootId
    const nodes = [h('li', { className: 'history', dataset: { testid: 'thread-status' }, hidden: !shown.status }, shown.status)]
    if (shown.rootId) nodes.push(...threadNodes(r))
    else nodes.push(...rootNodes(r))
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60
    reconcile(list, nodes)
    if (atBottom) list.scrollTop = list.scrollHeight
  }

  function threadNodes (r) {
    const root = model.event(r.id, shown.rootId)
    const replies = r.relations.thread(shown.rootId)?.replies ?? []
    const pending = r.pending.filter((e) => e.content?.['m.relates_to']?.event_id === shown.rootId && r.relations.inThread(e))
    const out = []
    let previous = null
    for (const event of [root, ...replies, ...pending].filter(Boolean)) {
      const own = event.sender === model.userId
      const key = event.txnId ? `txn:${event.txnId}` : (own && event.unsigned?.transaction_id ? `txn:${event.unsigned.transaction_id}` : event.event_id)
      const continued = previous && previous.sender === event.sender && event.origin_server_ts - previous.origin_server_ts < 5 * 60000 && event !== replies[0]
      const info = { key, own, sender: model.displayName(r.id, event.sender), seenBy: [], continued, delivery: undefined }
      const node = cache.get(key, messages.signature(r, event, info), () => messages.node(r, event, info))
      node.classList.toggle('thread-root', event === root)
      out.push(node)
      previous = event
    }
    if (!root && !shown.status) out.push(h('li', { className: 'empty' }, 'The first message of this thread is not available.'))
    return out
  }

  function rootNodes (r) {
    const roots = shown.roots.map((id) => model.event(r.id, id)).filter(Boolean)
    if (roots.length === 0 && !shown.status) return [h('li', { className: 'empty', dataset: { testid: 'threads-empty' } }, 'No threads in this room yet: "Thread" on a message starts one.')]
    return roots.map((root) => {
      const thread = r.relations.thread(root.event_id)
      const content = r.relations.content(root)
      const text = typeof content?.body === 'string' ? content.body.split('\n')[0].slice(0, 120) : 'message deleted'
      const count = thread?.count ?? 0
      return cache.get(`root:${root.event_id}`, JSON.stringify([text, count]), () => h('li', {},
        h('button', {
          type: 'button',
          className: 'thread-root-item',
          dataset: { testid: 'thread-root', eventId: root.event_id, count: String(count) },
          onclick: () => open(r.id, root.event_id)
        }, h('span', { className: 'sender' }, model.displayName(r.id, root.sender)), ' ', text,
        h('small', { className: 'muted' }, ` · ${count} ${count === 1 ? 'reply' : 'replies'}`))))
    })
  }

  return {
    open,
    openList,
    close,
    render,
    /** The open thread's root, or null. */
    get rootId () { return shown.roomId ? shown.rootId : null }
  }
}
