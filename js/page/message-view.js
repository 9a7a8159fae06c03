/**
 * One message of the timeline as DOM: avatar, sender and time, the reply it
 * answers (click to jump there), its text (newest edit, rich text), "(edited)",
 * its reactions, its thread's reply count (click to open the thread), its
 * delivery and read state, and the actions a person can take on it (reply,
 * reply in a thread, react, edit and delete our own). Messages that mention
 * us are marked. Built whole: the room view rebuilds a message only when its
 * signature() changes.
 */
import { h } from './dom.js'
import { isMedia, mediaNode } from './media-view.js'
import { avatarNode } from './avatar.js'

/** The reactions offered in one click; any other key others use is shown too. */
const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢']
/** Characters of the replied-to message shown in the quote. */
const QUOTE_CHARS = 120

/**
 * @param {{model: object, richText: {render: (content) => Node[]},
 *   actions: {reply, edit, react: (event, key) => void, remove, thread?: (event) => void}, onRetry: (roomId, echo) => void,
 *   onJump: (eventId) => void}} options
 *   actions.thread: opens the thread of a message (absent, in the thread view: no thread summary or "Thread" button)
 */
export function createMessageView ({ model, richText, actions, onRetry, onJump }) {
  /** The event whose reaction picker is open: a redraw of that message keeps it open. */
  let pickerOpenFor = null

  /** Everything the node shows, as a string: equal strings, equal nodes. */
  function signature (r, event, { sender, seenBy, continued, delivery }) {
    return JSON.stringify([event.pending && !event.event_id, event.failed, event.event_id, sender, model.avatarUrl(r.id, event.sender),
      seenBy.map((u) => model.displayName(r.id, u)), continued, r.relations.content(event), r.relations.edited(event),
      r.relations.reactions(event.event_id, model.userId), quoted(r, event), delivery, event.upload, threadSummary(r, event)])
  }

  /** A thread root's reply count and latest reply, in words; null for other messages. */
  function threadSummary (r, event) {
    if (!actions.thread || !event.event_id) return null
    const thread = r.relations.thread(event.event_id)
    if (!thread) return null
    const latest = thread.latest
    return { count: thread.count, latest: latest ? `${model.displayName(r.id, latest.sender)}: ${summary(r.relations.content(latest))}` : '' }
  }

  /** The replied-to message in a few words, or null when this is no reply (or only a thread's fallback reply). */
  function quoted (r, event) {
    const id = r.relations.content(event)?.['m.relates_to']?.['m.in_reply_to']?.event_id
    if (!id || (event.content?.['m.relates_to']?.rel_type === 'm.thread' && event.content['m.relates_to'].is_falling_back)) return null
    const target = model.event(r.id, id)
    if (!target) return { id, sender: null, text: 'a message further up' }
    return { id, sender: model.displayName(r.id, target.sender), text: summary(r.relations.content(target)) }
  }

  function node (r, event, { key, own, sender, seenBy, continued, delivery }) {
    const pending = Boolean(event.pending && !event.event_id)
    const content = r.relations.content(event)
    const deleted = typeof content?.body !== 'string'
    const edited = r.relations.edited(event)
    const quote = quoted(r, event)
    const thread = threadSummary(r, event)
    const mention = !own && !deleted && model.mentionsMe(r.id, content)
    return h('li', {
      className: `message${own ? ' own' : ''}${continued ? ' continued' : ''}${deleted ? ' redacted' : ''}${mention ? ' mention' : ''}`,
      tabindex: '-1', // a jump to it moves focus there
      dataset: {
        testid: 'message', key, own: String(own), pending: String(pending), failed: String(Boolean(event.failed)),
        eventId: event.event_id, txnId: event.txnId ?? event.unsigned?.transaction_id, edited: String(edited),
        ...(delivery && { delivery: delivery.state }), ...(mention && { mention: 'true' })
      }
    },
    h('div', { className: 'meta' },
      avatarNode({ id: event.sender, name: sender, url: model.avatarUrl(r.id, event.sender), size: 24 }), ' ',
      h('span', { className: 'sender', title: event.sender, dataset: { testid: 'message-sender' } }, own ? `${sender} (you)` : sender),
      ' ', timeNode(event.origin_server_ts),
      pending && !event.failed ? h('span', { className: 'state', dataset: { testid: 'message-state' } }, ' sending…') : null,
      delivery ? h('span', { className: `delivery ${delivery.state}`, dataset: { testid: 'message-delivery' }, title: deliveryTitle(delivery) }, ` ${deliveryText(delivery)}`) : null),
    quote
      ? h('button', {
        type: 'button',
        className: 'reply-quote',
        dataset: { testid: 'reply-quote', target: quote.id },
        'aria-label': `In reply to ${quote.sender ?? 'a message'}: ${quote.text}. Show it`,
        onclick: () => onJump(quote.id)
      }, quote.sender ? h('span', { className: 'sender' }, quote.sender) : null, ' ', quote.text)
      : null,
    h('div', { className: `body${content?.format === 'org.matrix.custom.html' ? ' html' : ''}`, dataset: { testid: 'message-body' } },
      deleted ? 'message deleted' : isMedia(content) ? mediaNode(content, event) : bodyNodes(content, sender, edited)),
    deleted ? null : reactionsNode(r, event),
    thread
      ? h('button', {
        type: 'button',
        className: 'thread-summary small',
        dataset: { testid: 'thread-summary', count: String(thread.count) },
        'aria-label': `${thread.count} ${thread.count === 1 ? 'reply' : 'replies'} in the thread. Open it`,
        onclick: () => actions.thread(event)
      }, h('span', { className: 'count' }, `${thread.count} ${thread.count === 1 ? 'reply' : 'replies'}`), ' ', h('span', { className: 'latest' }, thread.latest))
      : null,
    event.failed
      ? h('div', { className: 'failed', dataset: { testid: 'message-failed' } }, `Not sent: ${event.failed} `,
        h('button', { type: 'button', className: 'small', dataset: { testid: 'message-retry' }, onclick: () => onRetry(r.id, event) }, 'Retry'))
      : null,
    seenBy.length > 0
      ? h('div', { className: 'seen', dataset: { testid: 'read-receipt' }, title: seenBy.join(', ') },
        `Seen by ${seenBy.map((u) => model.displayName(r.id, u)).join(', ')}`)
      : null,
    event.event_id && !deleted ? actionsNode(event, own, content) : null)
  }

  /** The text, and "(edited)" at the end of its last line (inside a closing paragraph, not below it). */
  function bodyNodes (content, sender, edited) {
    const nodes = [content.msgtype === 'm.emote' ? document.createTextNode(`* ${sender} `) : null, ...richText.render(content)].filter(Boolean)
    if (!edited) return nodes
    const mark = h('span', { className: 'edited', dataset: { testid: 'message-edited' }, title: 'This message was edited' }, ' (edited)')
    const last = nodes.at(-1)
    if (last?.nodeType === Node.ELEMENT_NODE && ['P', 'LI', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6'].includes(last.tagName)) last.append(mark)
    else if (last?.nodeType === Node.ELEMENT_NODE && ['UL', 'OL'].includes(last.tagName) && last.lastElementChild) last.lastElementChild.append(mark)
    else nodes.push(mark)
    return nodes
  }

  function reactionsNode (r, event) {
    const list = r.relations.reactions(event.event_id, model.userId)
    if (list.length === 0) return null
    return h('div', { className: 'reactions', dataset: { testid: 'reactions' } }, list.map(({ key, senders, mine }) => {
      const names = senders.map((u) => model.displayName(r.id, u))
      return h('button', {
        type: 'button',
        className: 'reaction small',
        dataset: { testid: 'reaction', key, count: String(senders.length) },
        'aria-pressed': String(Boolean(mine)),
        title: `${names.join(', ')} reacted with ${key}`,
        'aria-label': `${key} ${senders.length}: ${names.join(', ')}. ${mine ? 'Take yours back' : 'React the same'}`,
        onclick: () => actions.react(event, key)
      }, `${key} ${senders.length}`)
    }))
  }

  /** Reply, react (a row of quick reactions), and for our own text: edit, delete (asks once more). */
  function actionsNode (event, own, content) {
    const picker = h('div', {
      className: 'picker',
      role: 'group',
      'aria-label': 'Reactions',
      dataset: { testid: 'reaction-picker' },
      hidden: pickerOpenFor !== event.event_id,
      onkeydown: (e) => { if (e.key === 'Escape') closePicker() }
    },
      QUICK_REACTIONS.map((key) => h('button', {
        type: 'button', className: 'small', dataset: { testid: 'reaction-choice', key }, 'aria-label': `React with ${key}`,
        onclick: () => {
          closePicker()
          actions.react(event, key)
        }
      }, key)))
    /** Focus goes back to the React button, not lost with the picker. */
    const closePicker = () => {
      const react = picker.parentElement.querySelector('[data-testid=message-react]')
      pickerOpenFor = null
      picker.hidden = true
      react.setAttribute('aria-expanded', 'false')
      react.focus()
    }
    const editable = own && isEditable(content)
    return h('div', { className: 'message-actions', role: 'toolbar', 'aria-label': 'Message actions' },
      h('button', { type: 'button', className: 'small', dataset: { testid: 'message-reply' }, onclick: () => actions.reply(event) }, 'Reply'),
      actions.thread ? h('button', { type: 'button', className: 'small', dataset: { testid: 'message-thread' }, onclick: () => actions.thread(event) }, 'Thread') : null,
      h('button', {
        type: 'button',
        className: 'small',
        dataset: { testid: 'message-react' },
        'aria-expanded': String(pickerOpenFor === event.event_id),
        onclick: (e) => {
          picker.hidden = !picker.hidden
          pickerOpenFor = picker.hidden ? null : event.event_id
          e.currentTarget.setAttribute('aria-expanded', String(!picker.hidden))
          if (!picker.hidden) picker.querySelector('button').focus()
        }
      }, 'React'),
      editable ? h('button', { type: 'button', className: 'small', dataset: { testid: 'message-edit' }, onclick: () => actions.edit(event) }, 'Edit') : null,
      own
        ? h('button', {
          type: 'button',
          className: 'small',
          dataset: { testid: 'message-delete' },
          onclick: (e) => {
            const button = e.currentTarget
            if (button.dataset.confirm === 'true') return actions.remove(event)
            button.dataset.confirm = 'true'
            button.classList.add('danger')
            button.textContent = 'Delete for everyone?'
          },
          onblur: (e) => {
            const button = e.currentTarget
            button.dataset.confirm = 'false'
            button.classList.remove('danger')
            button.textContent = 'Delete'
          }
        }, 'Delete')
        : null,
      picker)
  }

  return { signature, node }
}

/** Text messages can be edited; pictures and files cannot (they would need a new upload). */
export function isEditable (content) {
  return ['m.text', 'm.emote', 'm.notice'].includes(content?.msgtype)
}

/** A message's text in one short line, for a reply's quote. */
function summary (content) {
  if (typeof content?.body !== 'string') return 'message deleted'
  const line = content.body.split('\n').find((l) => l.trim()) ?? ''
  return line.length > QUOTE_CHARS ? `${line.slice(0, QUOTE_CHARS)}…` : line
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

/**
 * Formatters made once: toLocaleString() builds one per call, which was the
 * largest single cost of drawing a long room (bench client.render-room-500).
 */
const FORMATS = {
  time: new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' }),
  day: new Intl.DateTimeFormat([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }),
  full: new Intl.DateTimeFormat([], { dateStyle: 'medium', timeStyle: 'medium' })
}

export function timeNode (ts) {
  if (!ts) return null
  const d = new Date(ts)
  const today = new Date()
  const sameDay = d.getDate() === today.getDate() && d.getMonth() === today.getMonth() && d.getFullYear() === today.getFullYear()
  const text = (sameDay ? FORMATS.time : FORMATS.day).format(d)
  return h('time', { datetime: d.toISOString(), title: FORMATS.full.format(d) }, text)
}
