// The JS helpers that hand mail and notices to Go's hearthMailbox global.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GLOBALS, deliverMail, deliverNotice } from './globals.js'

test('deliverMail and deliverNotice call hearthMailbox and pass its outcome on', async (t) => {
  const calls = []
  globalThis[GLOBALS.mailbox] = {
    version: 5,
    receive: async (from, sealed) => { calls.push(['receive', from, sealed]); if (from === 'busy') throw new Error('storage is busy') },
    notice: async (...args) => { calls.push(['notice', ...args]) }
  }
  t.after(() => { delete globalThis[GLOBALS.mailbox] })
  const sealed = new Uint8Array([1, 2, 3])
  await deliverMail('12D3KooWA', sealed)
  await deliverNotice('delivered', '12D3KooWB', 'txn1')
  await assert.rejects(deliverMail('busy', sealed), { message: 'storage is busy' })
  assert.deepEqual(calls, [['receive', '12D3KooWA', sealed], ['notice', 'delivered', '12D3KooWB', 'txn1'], ['receive', 'busy', sealed]])
})

test('without hearthMailbox, delivering is refused with a named error (the mail stays on the relay)', async () => {
  assert.equal(GLOBALS.mailbox, 'hearthMailbox')
  await assert.rejects(deliverMail('12D3KooWA', new Uint8Array(1)), { name: 'BridgeError', message: /hearthMailbox is not set/ })
  await assert.rejects(deliverNotice('expired', '12D3KooWB', 'txn1'), { name: 'BridgeError' })
})
