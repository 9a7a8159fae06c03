/**
 * Child process of crash.test.js: writes a stream of transactions to file
 * persistence in argv[2] and prints "ack <id>" after each commit resolves,
 * until it is killed. A small journal bound makes it take snapshots (and
 * delete journal segments) often, and small chunks give those snapshots many
 * chunk files, so kills land inside those steps too.
 *
 *   node crash-writer.js DIR [STEP N]
 *
 * With STEP and N it kills itself (SIGKILL) the Nth time a snapshot reaches
 * STEP (file-persistence.js onSnapshotStep), so a kill lands exactly there.
 */

import { createStorage, withBytes } from './index.js'
import { encodeParams, TAG_INTEGER, TAG_BLOB } from './codec.js'

const [dir, killStep, killAt] = process.argv.slice(2)
let stepsSeen = 0
const onSnapshotStep = step => {
  if (step === killStep && ++stepsSeen === Number(killAt)) process.kill(process.pid, 'SIGKILL')
}
const { storage: raw } = await createStorage({
  persistence: 'file',
  dir,
  name: 'crash',
  snapshotPolicy: { maxBytes: 4096, minBytes: 0 },
  snapshotChunkBytes: 4096,
  onSnapshotStep
})
const storage = withBytes(raw)
check(storage.exec('CREATE TABLE IF NOT EXISTS acked (id INTEGER PRIMARY KEY, payload BLOB)'))
await storage.commit()
const [start] = decode(storage.query('SELECT coalesce(max(id), 0) FROM acked', null))
const insert = storage.prepare('INSERT INTO acked (id, payload) VALUES (?, ?)')
for (let id = Number(start) + 1; ; id++) {
  const payload = new Uint8Array(32 + (id % 200)).fill(id % 251)
  const params = encodeParams([{ name: '', tag: TAG_INTEGER, value: BigInt(id) }, { name: '', tag: TAG_BLOB, value: payload }])
  if (id % 3 === 0) {
    check(storage.run(insert, params)) // autocommit: commit() makes it durable
  } else {
    check(storage.begin())
    check(storage.run(insert, params))
  }
  await storage.commit()
  process.stdout.write(`ack ${id}\n`)
}

function check (res) {
  if (res !== undefined && !(res instanceof Uint8Array)) throw new Error(`${res.name}: ${res.message}`)
  return res
}

function decode (res) {
  // The one-cell result of the max(id) query: the value is the last 8 bytes.
  const view = new DataView(check(res).buffer)
  return [view.getBigInt64(res.length - 8, true)]
}
