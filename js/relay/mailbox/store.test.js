// The mailbox store on its own (no network): quotas, repeats, acks, the TTL
// sweep, one relay per directory; the group-commit writer and the rate limiter.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openMailboxStore } from './store.js'
import { createRateLimiter } from './rate.js'

const LIMITS = { ttl: 1000, maxMailsPerRecipient: 3, maxBytesPerRecipient: 100, maxStoreBytes: 150, maxNoticesPerSender: 2 }
const T0 = 1_800_000_000_000

async function withStore (fn, limits = LIMITS) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-mailbox-store-'))
  const store = openMailboxStore(dir, limits)
  try {
    await fn(store, dir)
  } finally {
    store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const mail = (sender, recipient, ref, size) => ({ sender, recipient, ref, sealed: new Uint8Array(size).fill(size) })

test('store: a repeated deposit stores nothing new; over a quota or the cap is MailboxFullError and stores nothing', async () => {
  await withStore(async (store) => {
    const put = (m, now = T0) => store.write(() => store.deposit(m, now))
    const first = await put(mail('alice', 'bob', 'r1', 10))
    assert.deepEqual(first, { mid: 1, expiresAt: T0 + 1000, duplicate: false })
    assert.deepEqual(await put(mail('alice', 'bob', 'r1', 10), T0 + 5), { ...first, duplicate: true })
    await put(mail('carol', 'bob', 'r1', 10)) // another sender, same ref: another mail
    await put(mail('alice', 'bob', 'r2', 10))
    await assert.rejects(put(mail('alice', 'bob', 'r3', 10)), { name: 'MailboxFullError', message: /holds 3 mails/ })
    await assert.rejects(put(mail('alice', 'dave', 'r1', 101)), { name: 'MailboxFullError', message: /bytes/ })
    await put(mail('alice', 'dave', 'r1', 100))
    await assert.rejects(put(mail('alice', 'erin', 'r1', 30)), { name: 'MailboxFullError', message: /store is full/ })
    assert.deepEqual(store.stats(), { mails: 4, bytes: 130, notices: 0 })
    assert.deepEqual(store.mailFor('bob', 0, 16, T0).map(m => [m.mid, m.sender, m.ref]),
      [[1, 'alice', 'r1'], [2, 'carol', 'r1'], [3, 'alice', 'r2']])
    assert.deepEqual(store.mailFor('bob', 1, 1, T0).map(m => m.mid), [2])
  })
})

test('store: acks delete only the recipient\'s own mail and tell each sender, up to its notice limit', async () => {
  await withStore(async (store) => {
    for (const ref of ['a', 'b', 'c']) await store.write(() => store.deposit(mail('alice', 'bob', ref, 1), T0))
    const told = await store.write(() => store.ack('mallory', [1, 2], T0 + 1))
    assert.equal(told.size, 0)
    assert.equal(store.stats().mails, 3)
    assert.deepEqual([...await store.write(() => store.ack('bob', [1, 2, 3, 99], T0 + 2))], ['alice'])
    assert.deepEqual(store.stats(), { mails: 0, bytes: 0, notices: 2 }) // the oldest of three dropped
    const notices = store.noticesFor('alice', 0, 16)
    assert.deepEqual(notices.map(n => [n.kind, n.recipient, n.ref, n.at]), [['delivered', 'bob', 'b', T0 + 2], ['delivered', 'bob', 'c', T0 + 2]])
    await store.write(() => store.ackNotices('bob', notices.map(n => n.nid)))
    assert.equal(store.stats().notices, 2)
    await store.write(() => store.ackNotices('alice', [notices[0].nid]))
    assert.deepEqual(store.noticesFor('alice', 0, 16).map(n => n.ref), ['c'])
  })
})

test('store: the sweep turns expired mail into expired notices and forgets old notices and peers', async () => {
  await withStore(async (store) => {
    await store.write(() => store.sawPeer('bob', T0))
    await store.write(() => store.deposit(mail('alice', 'bob', 'old', 1), T0))
    await store.write(() => store.deposit(mail('alice', 'bob', 'new', 1), T0 + 500))
    assert.equal(store.knowsPeer('bob', T0 + 1000), true)
    let swept = await store.write(() => store.sweep(T0 + 1000, []))
    assert.deepEqual([swept.expired, [...swept.told]], [1, ['alice']])
    assert.deepEqual(store.mailFor('bob', 0, 16, T0 + 1000).map(m => m.ref), ['new'])
    assert.deepEqual(store.noticesFor('alice', 0, 16).map(n => [n.kind, n.recipient, n.ref]), [['expired', 'bob', 'old']])
    assert.deepEqual(store.mailFor('bob', 0, 16, T0 + 1500), [], 'mail past its TTL is not pushed even before a sweep')
    swept = await store.write(() => store.sweep(T0 + 3000, ['carol']))
    assert.equal(swept.expired, 1)
    assert.deepEqual(store.noticesFor('alice', 0, 16).map(n => n.ref), ['new'], 'notices last twice the TTL')
    assert.equal(store.knowsPeer('bob', T0 + 3000), false)
    assert.equal(store.knowsPeer('carol', T0 + 3000), true)
  })
})

test('store: the file holds the payload exactly as deposited; one relay per directory', async () => {
  await withStore(async (store, dir) => {
    const sealed = randomBytes(1024)
    await store.write(() => store.deposit({ sender: 'alice', recipient: 'bob', ref: 'r', sealed }, T0))
    assert.deepEqual(Buffer.from(store.mailFor('bob', 0, 1, T0)[0].sealed), sealed)
    const files = await Promise.all((await readdir(dir)).map(name => readFile(join(dir, name))))
    assert.ok(files.some(bytes => bytes.includes(sealed)), 'the sealed bytes are on disk, unchanged')
    assert.throws(() => openMailboxStore(dir, LIMITS), { name: 'MailboxStoreError', message: /in use by another relay/ })
  }, { ...LIMITS, maxBytesPerRecipient: 4096, maxStoreBytes: 4096 })
})

test('store: in one group commit a refused deposit rolls back alone', async () => {
  await withStore(async (store) => {
    const results = await Promise.allSettled([
      store.write(() => store.deposit(mail('alice', 'bob', 'a', 60), T0)),
      store.write(() => store.deposit(mail('alice', 'bob', 'b', 60), T0)), // over bob's 100 bytes
      store.write(() => { throw new Error('a broken job') }),
      store.write(() => store.deposit(mail('alice', 'bob', 'c', 40), T0))
    ])
    assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled'])
    assert.deepEqual(store.mailFor('bob', 0, 16, T0).map(m => m.ref), ['a', 'c'])
  })
})

test('rate: a burst, then one deposit per token, and how long until the next', () => {
  const rate = createRateLimiter({ perSecond: 2, burst: 3 })
  assert.deepEqual([0, 0, 0].map(() => rate.take('alice', T0)), [0, 0, 0])
  assert.equal(rate.take('alice', T0), 500)
  assert.equal(rate.take('bob', T0), 0, 'each sender has its own bucket')
  assert.equal(rate.take('alice', T0 + 250), 250)
  assert.equal(rate.take('alice', T0 + 500), 0)
  rate.prune(T0 + 10_000)
  assert.deepEqual([0, 0, 0, 1].map(() => rate.take('alice', T0 + 10_000)), [0, 0, 0, 500])
})
