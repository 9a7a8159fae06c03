// Property tests of the sql.js value codec (codec.js), bounded: random
// values round-trip through params and results, through sql.js itself, and
// random or mutated buffers fail with a RangeError, never a hang or a crash.
// HEARTH_FUZZ_SEED=n replays a run; HEARTH_FUZZ_RUNS=n runs longer by hand
// (js/testing/seeded-random.js).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createStorage, withBytes } from './index.js'
import { property } from '../testing/seeded-random.js'
import { decodeParams, decodeResult, encodeParams, ResultWriter, TAG_BLOB, TAG_INTEGER, TAG_NULL, TAG_REAL, TAG_TEXT } from './codec.js'

const utf8 = new TextEncoder()
/** as codec.js decodes TEXT: a leading U+FEFF is text, not a byte order mark to drop */
const asText = bytes => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes)

/** A random value of any tag, as decodeParams returns them (NaN left out: SQLite makes it NULL, checked on its own). */
function randomValue (rand) {
  const tag = rand.pick([TAG_NULL, TAG_INTEGER, TAG_REAL, TAG_TEXT, TAG_BLOB])
  switch (tag) {
    case TAG_NULL: return { tag, value: null }
    case TAG_INTEGER: return { tag, value: rand.pick(INT64S)(rand) }
    case TAG_REAL: {
      let v = rand.pick(REALS)(rand)
      while (Number.isNaN(v)) v = rand.pick(REALS)(rand)
      return { tag, value: v }
    }
    case TAG_TEXT: return { tag, value: utf8.encode(rand.text()) }
    default: return { tag, value: rand.bytes(rand.int(40)) }
  }
}

const INT64S = [
  () => 0n, () => -1n, () => 2n ** 63n - 1n, () => -(2n ** 63n), () => 2n ** 31n, () => -(2n ** 31n) - 1n,
  rand => BigInt(rand.int(2 ** 31)) - 2n ** 30n,
  rand => BigInt.asIntN(64, BigInt(rand.int(2 ** 32)) << 32n | BigInt(rand.int(2 ** 32)))
]
const REALS = [
  () => 0, () => -0, () => Infinity, () => -Infinity, () => Number.MIN_VALUE, () => Number.MAX_VALUE,
  rand => (rand.next() - 0.5) * 10 ** rand.int(40),
  rand => new DataView(rand.bytes(8).buffer).getFloat64(0)
]

test('random params round-trip through encodeParams and decodeParams', () => property(rand => {
  const params = Array.from({ length: rand.int(8) }, () => ({ name: rand.pick(['', ':a', '$x', rand.text()]), ...randomValue(rand) }))
  assert.deepEqual(decodeParams(encodeParams(params)), params)
}))

test('random results round-trip through ResultWriter and decodeResult', () => property(rand => {
  const columns = Array.from({ length: rand.int(5) }, () => rand.text())
  const rows = Array.from({ length: columns.length === 0 ? 0 : rand.int(6) }, () => columns.map(() => randomValue(rand)))
  const out = new ResultWriter()
  const changes = BigInt(rand.int(1000))
  const rowid = BigInt.asIntN(64, BigInt(rand.int(2 ** 32)) << 31n)
  out.header(rand.int(2), changes, rowid, columns)
  for (const row of rows) {
    for (const cell of row) out.cell(cell.tag, cell.value)
    out.endRow()
  }
  const decoded = decodeResult(out.finish())
  assert.deepEqual(decoded.columns, columns)
  assert.equal(decoded.changes, changes)
  assert.equal(decoded.lastInsertRowid, rowid)
  assert.deepEqual(decoded.rows, rows.map(row => row.map(c => c.tag === TAG_TEXT ? asText(c.value) : c.value)))
}))

test('random values round-trip through sql.js: SELECT of bound parameters gives them back', async () => {
  const { storage: raw, close } = await createStorage()
  const storage = withBytes(raw)
  try {
    await property(rand => {
      const params = Array.from({ length: 1 + rand.int(6) }, () => ({ name: '', ...randomValue(rand) }))
      const res = storage.query('SELECT ' + params.map(() => '?').join(', '), encodeParams(params))
      assert.ok(res instanceof Uint8Array, JSON.stringify(res))
      const [row] = decodeResult(res).rows
      assert.deepEqual(row, params.map(p => p.tag === TAG_TEXT ? asText(p.value) : p.value))
    })
    // SQLite's own conversion, not the codec's: a NaN bound as REAL reads back as NULL.
    const [[nan]] = decodeResult(storage.query('SELECT ?', encodeParams([{ name: '', tag: TAG_REAL, value: NaN }]))).rows
    assert.equal(nan, null)
  } finally {
    await close()
  }
})

/** Calls decode on bytes: it returns or throws a RangeError; anything else fails the test. */
function decodesOrRangeError (decode, bytes) {
  try {
    decode(bytes)
  } catch (err) {
    if (!(err instanceof RangeError)) assert.fail(`${decode.name}(${bytes}): ${err?.name}: ${err?.message}`)
  }
}

test('random and mutated buffers decode or throw a RangeError, in bounded time', () => property((rand, i) => {
  const valid = i % 2 === 0
    ? encodeParams(Array.from({ length: 1 + rand.int(4) }, () => ({ name: '', ...randomValue(rand) })))
    : (() => {
        const out = new ResultWriter()
        out.header(0, 1n, 2n, ['a', 'b'])
        out.cell(TAG_INTEGER, 5n); out.cell(TAG_TEXT, utf8.encode(rand.text())); out.endRow()
        return out.finish()
      })()
  const mutated = rand.mutate(valid)
  const truncated = valid.subarray(0, rand.int(valid.length))
  for (const bytes of [mutated, truncated, rand.bytes(rand.int(64))]) {
    decodesOrRangeError(decodeParams, bytes)
    decodesOrRangeError(decodeResult, bytes)
  }
}))

test('a buffer that claims more params, or rows, than its bytes can hold is refused at once', () => {
  const params = encodeParams([])
  new DataView(params.buffer).setUint32(0, 9_000_000, true)
  assert.throws(() => decodeParams(params), RangeError)


  const header = new ResultWriter()
  header.header(0, 0n, 0n, [])
  const noColumns = header.finish()
  new DataView(noColumns.buffer).setUint32(noColumns.length - 4, 0xffffffff, true) // 4 billion empty rows
  assert.throws(() => decodeResult(noColumns), RangeError)

  const two = new ResultWriter()
  two.header(0, 0n, 0n, ['a', 'b'])
  const claims = two.finish()
  new DataView(claims.buffer).setUint32(claims.length - 4, 1000, true) // 2,000 cells, no bytes for them
  assert.throws(() => decodeResult(claims), RangeError)
})
