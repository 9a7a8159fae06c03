/**
 * The left column: invitations (accept / reject) and rooms with their
 * avatars and unread counts (marked when a message mentions us), most
 * recently active first. Re-renders only when the model's
 * listVersion or the selection changes.
 */
import { h, reconcile, createNodeCache } from './dom.js'
import { avatarNode } from './avatar.js'

/**
 * @param {{model: object, onSelect: (roomId) => void, onAccept: (roomId) => Promise<void>, onReject: (roomId) => Promise<void>}} options
 */
export function createSidebar ({ model, onSelect, onAccept, onReject }) {
  const $ = (id) => document.getElementById(id)
  const cache = createNodeCache()
  let shownKey = null

  function lastActivity (r) {
    const last = r.pending.at(-1) ?? r.events.at(-1)
    return last?.origin_server_ts ?? 0
  }

  function render (selected) {
    const key = `${model.listVersion}|${selected}`
    if (key === shownKey) return
    shownKey = key

    const invites = [...model.invites.values()]
    $('invites').hidden = invites.length === 0
    reconcile($('invite-list'), invites.map((inv) => {
      const from = inv.inviter ? `${inv.inviterName ?? inv.inviter}` : 'someone'
      return cache.get(`invite:${inv.id}`, JSON.stringify(inv), () => {
        const busy = (li, on) => li.querySelectorAll('button').forEach((b) => { b.disabled = on })
        const li = h('li', { className: 'invite', dataset: { testid: 'invite', roomId: inv.id } },
          h('div', { className: 'name', dataset: { testid: 'invite-name' } }, inv.name ?? inv.alias ?? (inv.isDirect ? 'Direct chat' : 'A room')),
          h('div', { className: 'muted', title: inv.inviter ?? '' }, `from ${from}`),
          h('div', { className: 'buttons' },
            h('button', { type: 'button', className: 'small primary', dataset: { testid: 'invite-accept' }, onclick: () => { busy(li, true); onAccept(inv.id).finally(() => busy(li, false)) } }, 'Accept'),
            h('button', { type: 'button', className: 'small', dataset: { testid: 'invite-reject' }, onclick: () => { busy(li, true); onReject(inv.id).finally(() => busy(li, false)) } }, 'Reject')))
        return li
      })
    }))

    const rooms = [...model.rooms.values()].sort((a, b) => lastActivity(b) - lastActivity(a))
    $('room-list-empty').hidden = rooms.length > 0
    let totalUnread = 0
    reconcile($('room-list'), rooms.map((r) => {
      const name = model.roomName(r.id)
      const unread = model.unread(r.id)
      const mentions = model.highlights(r.id)
      if (r.id !== selected) totalUnread += unread
      const current = r.id === selected
      return cache.get(`room:${r.id}`, JSON.stringify([name, unread, mentions, current, r.joinRule, r.avatar]), () => h('li', {},
        h('button', {
          type: 'button',
          dataset: { testid: 'room-item', roomId: r.id, unread: String(unread), mentions: String(mentions) },
          title: r.id,
          'aria-current': String(current),
          className: unread > 0 ? 'has-unread' : '',
          onclick: () => onSelect(r.id)
        },
        avatarNode({ id: r.id, name, url: r.avatar, size: 24 }),
        h('span', { className: 'name', dataset: { testid: 'room-item-name' } }, name),
        h('span', {
          className: mentions > 0 ? 'badge mention' : 'badge',
          dataset: { testid: 'unread-count' },
          hidden: unread === 0 && mentions === 0,
          'aria-label': `${unread} unread${mentions > 0 ? `, ${mentions} mentioning you` : ''}`
        }, mentions > 0 ? `@ ${Math.max(unread, mentions)}` : unread > 0 ? String(unread) : ''))))
    }))
    cache.prune(new Set([...invites.map((i) => `invite:${i.id}`), ...rooms.map((r) => `room:${r.id}`)]))
    const back = $('back-unread')
    back.hidden = totalUnread === 0
    back.textContent = totalUnread > 0 ? String(totalUnread) : ''
  }

  return { render, forceNext: () => { shownKey = null } }
}
