/**
 * Telling a person about new messages while they look elsewhere: a system
 * notification per message that arrives while the page is hidden (shown
 * through the service worker's registration, so clicking it reaches
 * sw/sw.js, which brings back this window on that room), and the number of
 * unread messages in the tab's title.
 *
 * Permission is asked when it means something to the person: when they click
 * the bell, or after the first message they send (a moment someone expects
 * answers), once; never on page load.
 *
 * The user's push rules decide what notifies: the server evaluates them and
 * counts what notified in each room's unread_notifications. A room whose count
 * did not rise in a response (muted, mentions only, a notice) shows nothing;
 * one whose count rose by n shows its n newest messages from others. A server
 * that sends no count leaves every message from someone else to notify.
 */

const TITLE = 'Hearth'
/** localStorage: 'asked' once we asked after a send; 'off' when the person muted us with the bell. */
const PREF = (userId) => `hearth.notify.${userId}`

/**
 * @param {{userId: string, storage: Storage, button: HTMLButtonElement,
 *   registration: () => Promise<ServiceWorkerRegistration>}} options
 */
export function createNotifier ({ userId, storage, button, registration }) {
  const supported = typeof Notification === 'function'
  const pref = () => storage.getItem(PREF(userId))
  /** roomId → the server's notification_count as the last response said. */
  const counts = new Map()

  function enabled () {
    return supported && Notification.permission === 'granted' && pref() !== 'off'
  }

  function renderButton () {
    const state = !supported ? 'unsupported' : Notification.permission === 'denied' ? 'blocked' : enabled() ? 'on' : 'off'
    button.dataset.state = state
    button.setAttribute('aria-pressed', String(state === 'on'))
    button.disabled = state === 'unsupported'
    button.textContent = state === 'on' ? 'Notifications on' : 'Notifications off'
    button.title = {
      unsupported: 'This browser cannot show notifications',
      blocked: 'Notifications are blocked for this site in the browser\'s settings',
      on: 'You are told about new messages while Hearth is in the background. Click to stop',
      off: 'Click to be told about new messages while Hearth is in the background'
    }[state]
  }

  async function ask () {
    if (!supported) return
    if (Notification.permission === 'default') await Notification.requestPermission().catch(() => {})
    renderButton()
  }

  /** The bell: asks for permission, or turns notifications on and off. */
  async function toggle () {
    if (supported && Notification.permission === 'granted') {
      if (enabled()) storage.setItem(PREF(userId), 'off')
      else storage.removeItem(PREF(userId))
      renderButton()
      return
    }
    storage.removeItem(PREF(userId))
    await ask()
  }

  /** After a message of ours was sent: ask once, if nobody decided yet. */
  function sentMessage () {
    if (!supported || Notification.permission !== 'default' || pref()) return
    storage.setItem(PREF(userId), 'asked')
    ask()
  }

  /**
   * A /sync response was applied: notifies, if the page is hidden and the
   * response is incremental, of the new messages from others that the
   * server's counts say notified.
   * @param {object} res the /sync response
   * @param {{roomName: (roomId) => string, displayName: (roomId, userId) => string, isMessage: (roomId, event) => boolean}} names
   * @param {{initial?: boolean}} [options] initial: only learn the counts
   */
  async function synced (res, names, { initial = false } = {}) {
    const rose = new Map() // roomId → how many more notified; absent: no count sent
    for (const [roomId, joined] of Object.entries(res.rooms?.join ?? {})) {
      const count = joined.unread_notifications?.notification_count
      if (typeof count !== 'number') continue
      rose.set(roomId, Math.max(0, count - (counts.get(roomId) ?? 0)))
      counts.set(roomId, count)
    }
    if (initial || document.visibilityState !== 'hidden' || !enabled()) return
    const shown = []
    for (const [roomId, joined] of Object.entries(res.rooms?.join ?? {})) {
      const fromOthers = (joined.timeline?.events ?? []).filter((event) => event.sender !== userId && names.isMessage(roomId, event))
      const limit = rose.get(roomId) ?? fromOthers.length
      for (const event of fromOthers.slice(fromOthers.length - limit)) shown.push([roomId, event])
    }
    if (shown.length === 0) return
    const reg = await registration()
    for (const [roomId, event] of shown) {
      await reg.showNotification(names.roomName(roomId), {
        body: `${names.displayName(roomId, event.sender)}: ${preview(event.content)}`,
        tag: `${roomId}|${event.event_id}`,
        data: { roomId, userId, eventId: event.event_id }
      }).catch((err) => console.warn('hearth: cannot show a notification:', err))
    }
  }

  /** "(3) Hearth": unread messages in all rooms, while there are any. */
  function title (unread) {
    document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE
  }

  renderButton()
  return { toggle, sentMessage, synced, title, render: renderButton }
}

function preview (content) {
  switch (content?.msgtype) {
    case 'm.image': return 'sent a picture'
    case 'm.file': return `sent a file: ${content.body ?? ''}`
    default: return String(content?.body ?? '').slice(0, 200)
  }
}
