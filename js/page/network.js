/**
 * The page's view of the peer-to-peer network: this server's peer identity
 * (copyable: it is what another person needs to reach us) and the servers
 * online on our relay. It only shows what the service worker reports in
 * status.p2p (sw/protocol.js); libp2p itself runs in the worker.
 */

const STATE_TEXT = {
  starting: 'Joining the network…',
  off: 'No relay configured: this server is on its own',
  connecting: 'Connecting to the relay…',
  online: 'Online',
  failed: 'Not on the network',
  duplicate: 'Offline: another copy of this server is online'
}

/**
 * @param {HTMLElement} root the #network element (see index.html)
 * @returns {{render: (p2p: object|undefined) => void}}
 */
export function createNetworkView (root) {
  const $ = (id) => root.querySelector(`[data-testid=${id}]`)
  const copy = $('peer-id-copy')
  copy.addEventListener('click', async () => {
    const text = $('peer-id').textContent
    try {
      await navigator.clipboard.writeText(text)
      flash(copy, 'Copied')
    } catch {
      // No clipboard permission (or an insecure context): select it for Ctrl+C instead.
      const range = document.createRange()
      range.selectNodeContents($('peer-id'))
      getSelection().removeAllRanges()
      getSelection().addRange(range)
      flash(copy, 'Selected: press Ctrl+C')
    }
  })

  let lastKey = null
  return {
    render (p2p) {
      root.hidden = p2p === undefined
      if (p2p === undefined) return
      const key = JSON.stringify(p2p)
      if (key === lastKey) return
      lastKey = key
      root.dataset.state = p2p.state
      // A refusal to go online needs reading: open the details by itself.
      if (p2p.state === 'duplicate') root.open = true
      // A directly linked peer stays reachable when the relay is not.
      const direct = new Set(p2p.direct ?? [])
      const peers = [...new Set([...(p2p.peers ?? []), ...direct])]
      $('network-state').textContent = STATE_TEXT[p2p.state] ?? p2p.state
      $('peer-count').textContent = p2p.state === 'online' ? ` · ${peers.length} ${peers.length === 1 ? 'peer' : 'peers'} online` : ''
      $('peer-identity').hidden = !p2p.peerId
      $('peer-id').textContent = p2p.peerId ?? ''
      const error = $('network-error')
      error.hidden = !p2p.error
      error.textContent = p2p.error ?? ''
      $('relay').replaceChildren(...(p2p.relays ?? []).map((relay, i) => {
        const item = document.createElement('span')
        item.dataset.testid = 'relay-item'
        item.dataset.relayId = relay.peerId ?? ''
        item.dataset.offers = relayOffers(relay).join(' ')
        item.textContent = (i > 0 ? '; ' : '') + describeRelay(relay)
        return item
      }))
      $('peer-list').replaceChildren(...peers.map((peer) => {
        const li = document.createElement('li')
        li.dataset.testid = 'peer'
        li.dataset.peerId = peer
        li.dataset.direct = direct.has(peer)
        li.textContent = peer
        if (direct.has(peer)) {
          const tag = document.createElement('span')
          tag.className = 'direct'
          tag.title = 'Connected browser to browser (WebRTC); the relay is not in the way'
          tag.textContent = ' · direct'
          li.append(tag)
        }
        return li
      }))
      $('peer-list-empty').hidden = peers.length > 0 || p2p.state !== 'online'
    }
  }
}

function flash (button, text) {
  const original = button.dataset.label ?? button.textContent
  button.dataset.label = original
  button.textContent = text
  setTimeout(() => { button.textContent = original }, 1500)
}

/** What each offer means to the person, in the order shown. */
const OFFER_TEXT = {
  reservation: 'reachable through it',
  mailbox: 'keeps your mail while you are away',
  presence: 'says who is online',
  routing: 'finds servers on other relays'
}

/**
 * What a relay offers us: 'reservation' (we hold one: others reach us through
 * it; any libp2p circuit relay gives that), then the Hearth extras it listed
 * that we use now ('mailbox', 'presence') or that need no session ('routing').
 * @param {{online: boolean, offers?: string[], mailbox?: boolean, presence?: boolean}} relay
 * @returns {string[]}
 */
export function relayOffers (relay) {
  if (!relay.online) return []
  const offers = ['reservation']
  if (relay.mailbox) offers.push('mailbox')
  if (relay.presence) offers.push('presence')
  if (relay.offers?.includes('routing')) offers.push('routing')
  return offers
}

/**
 * One relay in a line: where it is, whether we are on it, what it offers.
 * @param {{addr: string, online: boolean, learned?: boolean, offers?: string[], mailbox?: boolean, presence?: boolean}} relay
 * @returns {string}
 */
export function describeRelay (relay) {
  const how = relay.learned ? ', found through another relay' : ''
  if (!relay.online) return `${relay.addr} (connecting${how})`
  const offers = relayOffers(relay)
  const extras = offers.length === 1 ? ', a plain libp2p relay' : ''
  return `${relay.addr} (connected${how}${extras}: ${offers.map(o => OFFER_TEXT[o]).join(', ')})`
}
