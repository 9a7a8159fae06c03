// The network status says what each relay offers (issue 17): a stock libp2p
// relay gives a reservation only; Hearth's adds the extras we hold there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { describeRelay, relayOffers } from './network.js'

const addr = '/ip4/127.0.0.1/tcp/8081/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'

test('a stock relay offers a reservation only, and says so', () => {
  const relay = { addr, online: true, offers: [], presence: false, mailbox: false }
  assert.deepEqual(relayOffers(relay), ['reservation'])
  assert.equal(describeRelay(relay), `${addr} (connected, a plain libp2p relay: reachable through it)`)
})

test("Hearth's relay: reservation, then the mailbox and presence held there, and lookups", () => {
  const relay = { addr, online: true, learned: true, offers: ['presence', 'mailbox', 'routing'], presence: true, mailbox: true }
  assert.deepEqual(relayOffers(relay), ['reservation', 'mailbox', 'presence', 'routing'])
  assert.equal(describeRelay(relay), `${addr} (connected, found through another relay: reachable through it, keeps your mail while you are away, says who is online, finds servers on other relays)`)
  // an extra it lists but we do not hold (yet) is not claimed
  assert.deepEqual(relayOffers({ ...relay, mailbox: false }), ['reservation', 'presence', 'routing'])
})

test('a relay we are not on offers nothing yet', () => {
  const relay = { addr, online: false, offers: [], presence: false, mailbox: false }
  assert.deepEqual(relayOffers(relay), [])
  assert.equal(describeRelay(relay), `${addr} (connecting)`)
})
