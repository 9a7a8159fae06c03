/**
 * The binary encoding of statement parameters and results on the bridge.
 * Go's side is go/bridge/storagecodec.go; the format is documented in
 * go/bridge/storage_js.go. Values travel in one Uint8Array per direction,
 * never as JS numbers, because a JS number cannot hold every int64 and
 * syscall/js has no BigInt.
 *
 * All integers are little-endian.
 *   value  = u8 tag, payload
 *            tag 0 NULL    (no payload)
 *            tag 1 INTEGER i64
 *            tag 2 REAL    f64
 *            tag 3 TEXT    u32 length, UTF-8 bytes
 *            tag 4 BLOB    u32 length, bytes
 *   params = u32 count, count × (u32 name length, name UTF-8 (empty: positional), value)
 *   result = u8 flags (bit 0: commit required), i64 changes, i64 last insert rowid,
 *            u32 column count, columns × (u32 length, UTF-8 name),
 *            u32 row count, rows × columns × value
 */

export const TAG_NULL = 0
export const TAG_INTEGER = 1
export const TAG_REAL = 2
export const TAG_TEXT = 3
export const TAG_BLOB = 4

export const FLAG_COMMIT_REQUIRED = 1

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })

/**
 * Decodes a params buffer.
 * @param {Uint8Array} bytes
 * @returns {Array<{name: string, tag: number, value: null|bigint|number|Uint8Array}>}
 *   INTEGER as bigint, REAL as number, TEXT and BLOB as bytes.
 */
export function decodeParams (bytes) {
  if (bytes == null || bytes.length === 0) return []
  const r = new Reader(bytes)
  const count = r.u32()
  // A param takes at least 5 bytes (name length, tag): a corrupt count must
  // not allocate an array it cannot fill.
  if (count > (bytes.length - r.offset) / 5) throw new RangeError(`params buffer claims ${count} params in ${bytes.length} bytes`)
  const params = new Array(count)
  for (let i = 0; i < count; i++) {
    const name = utf8Decoder.decode(r.bytes(r.u32()))
    const tag = r.u8()
    params[i] = { name, tag, value: r.value(tag) }
  }
  if (r.offset !== bytes.length) throw new RangeError('params buffer has trailing bytes')
  return params
}

/** Encodes params (same shapes decodeParams returns); used by tests, benchmarks and the journal. */
export function encodeParams (params) {
  const w = new Writer()
  w.u32(params.length)
  for (const p of params) {
    const name = utf8Encoder.encode(p.name ?? '')
    w.u32(name.length)
    w.raw(name)
    w.value(p.tag, p.value)
  }
  return w.finish()
}

/** Builds a result buffer row by row. */
export class ResultWriter {
  constructor () {
    this.w = new Writer()
    this.rowCount = 0
    this.rowCountOffset = -1
  }

  /**
   * Writes flags, changes, rowid and column names; call once, first.
   * @param {Array<string|Uint8Array>} columns names, as text or UTF-8 bytes
   */
  header (flags, changes, lastInsertRowid, columns) {
    this.w.u8(flags)
    this.w.i64(BigInt(changes))
    this.w.i64(BigInt(lastInsertRowid))
    this.w.u32(columns.length)
    for (const c of columns) {
      const b = typeof c === 'string' ? utf8Encoder.encode(c) : c
      this.w.u32(b.length)
      this.w.raw(b)
    }
    this.rowCountOffset = this.w.length
    this.w.u32(0)
  }

  /** Sets the flags byte after the fact (commit-required is known only after stepping). */
  setFlags (flags) { this.w.buf[0] = flags }

  setChanges (changes, lastInsertRowid) {
    this.w.view.setBigInt64(1, BigInt(changes), true)
    this.w.view.setBigInt64(9, BigInt(lastInsertRowid), true)
  }

  /** Appends one cell; call columns × times per row and then endRow(). */
  cell (tag, value) { this.w.value(tag, value) }
  endRow () { this.rowCount++ }

  finish () {
    this.w.view.setUint32(this.rowCountOffset, this.rowCount, true)
    return this.w.finish()
  }
}

/** Decodes a result buffer; used by the JS tests and the benchmark. */
export function decodeResult (bytes) {
  const r = new Reader(bytes)
  const flags = r.u8()
  const changes = r.i64()
  const lastInsertRowid = r.i64()
  const columns = []
  for (let n = r.u32(); n > 0; n--) columns.push(utf8Decoder.decode(r.bytes(r.u32())))
  const rowCount = r.u32()
  // Every value takes at least its tag byte, so rows × columns cannot pass
  // what is left, and a statement without columns has no rows (as
  // storagecodec.go checks): a corrupt count must not loop for billions.
  if (columns.length === 0 ? rowCount !== 0 : rowCount > (bytes.length - r.offset) / columns.length) {
    throw new RangeError(`result claims ${rowCount} rows of ${columns.length} columns in ${bytes.length - r.offset} bytes`)
  }
  const rows = []
  for (let n = rowCount; n > 0; n--) {
    const row = []
    for (let c = 0; c < columns.length; c++) {
      const tag = r.u8()
      const v = r.value(tag)
      row.push(tag === TAG_TEXT ? utf8Decoder.decode(v) : v)
    }
    rows.push(row)
  }
  return { flags, changes, lastInsertRowid, columns, rows }
}

class Reader {
  constructor (bytes) {
    this.bytes_ = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.offset = 0
  }

  need (n) {
    if (this.offset + n > this.bytes_.length) throw new RangeError('buffer ends inside a value')
  }

  u8 () { this.need(1); return this.view.getUint8(this.offset++) }
  u32 () { this.need(4); const v = this.view.getUint32(this.offset, true); this.offset += 4; return v }
  i64 () { this.need(8); const v = this.view.getBigInt64(this.offset, true); this.offset += 8; return v }
  f64 () { this.need(8); const v = this.view.getFloat64(this.offset, true); this.offset += 8; return v }
  bytes (n) { this.need(n); const v = this.bytes_.subarray(this.offset, this.offset + n); this.offset += n; return v }

  value (tag) {
    switch (tag) {
      case TAG_NULL: return null
      case TAG_INTEGER: return this.i64()
      case TAG_REAL: return this.f64()
      case TAG_TEXT:
      case TAG_BLOB: return this.bytes(this.u32())
      default: throw new RangeError(`unknown value tag ${tag}`)
    }
  }
}

class Writer {
  constructor (capacity = 256) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
    this.length = 0
  }

  grow (n) {
    if (this.length + n <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.length + n) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (v) { this.grow(1); this.buf[this.length++] = v }
  u32 (v) { this.grow(4); this.view.setUint32(this.length, v, true); this.length += 4 }
  i64 (v) { this.grow(8); this.view.setBigInt64(this.length, v, true); this.length += 8 }
  f64 (v) { this.grow(8); this.view.setFloat64(this.length, v, true); this.length += 8 }
  raw (bytes) { this.grow(bytes.length); this.buf.set(bytes, this.length); this.length += bytes.length }

  value (tag, value) {
    this.u8(tag)
    switch (tag) {
      case TAG_NULL: return
      case TAG_INTEGER: this.i64(BigInt(value)); return
      case TAG_REAL: this.f64(value); return
      case TAG_TEXT:
      case TAG_BLOB: {
        const bytes = typeof value === 'string' ? utf8Encoder.encode(value) : value
        this.u32(bytes.length)
        this.raw(bytes)
        return
      }
      default: throw new RangeError(`unknown value tag ${tag}`)
    }
  }

  finish () { return this.buf.slice(0, this.length) }
}
