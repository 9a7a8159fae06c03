/**
 * The journal record format: one record per committed transaction, holding
 * the writes it ran (SQL text and encoded params, see codec.js), so that
 * replaying the records in order over the last snapshot rebuilds the
 * database.
 *
 *   record = u32 body length, u32 CRC-32 of body, body
 *   body   = u64 sequence, u32 count, count × (u8 kind, u32 sql length, sql UTF-8,
 *            u32 params length, params)
 *   kind   = 0 statement (params as in codec.js) | 1 script (no params)
 *
 * A record cut short by a crash, or whose checksum does not match, ends the
 * readable part of its segment: it was never acknowledged, so it is ignored.
 */

export const KIND_STATEMENT = 0
export const KIND_SCRIPT = 1
const HEADER = 8

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * @param {number} seq
 * @param {Array<{kind: number, sql: string, params: Uint8Array|null}>} writes
 * @returns {Uint8Array}
 */
export function encodeRecord (seq, writes) {
  const sqls = writes.map(w => encoder.encode(w.sql))
  let size = 8 + 4
  for (let i = 0; i < writes.length; i++) size += 1 + 4 + sqls[i].length + 4 + (writes[i].params?.length ?? 0)
  const out = new Uint8Array(HEADER + size)
  const view = new DataView(out.buffer)
  let o = HEADER
  view.setBigUint64(o, BigInt(seq), true); o += 8
  view.setUint32(o, writes.length, true); o += 4
  for (let i = 0; i < writes.length; i++) {
    view.setUint8(o, writes[i].kind); o += 1
    view.setUint32(o, sqls[i].length, true); o += 4
    out.set(sqls[i], o); o += sqls[i].length
    const params = writes[i].params ?? new Uint8Array(0)
    view.setUint32(o, params.length, true); o += 4
    out.set(params, o); o += params.length
  }
  view.setUint32(0, size, true)
  view.setUint32(4, crc32(out.subarray(HEADER)), true)
  return out
}

/**
 * Reads records from bytes until the end or the first torn one.
 * @param {Uint8Array} bytes
 * @returns {{records: Array<{seq: number, bytes: number, writes: Array<{kind: number, sql: string, params: Uint8Array}>}>, validLength: number, torn: boolean}}
 *   (bytes: the record's encoded size, header included)
 */
export function decodeRecords (bytes) {
  const records = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 0
  while (o < bytes.length) {
    const record = decodeOne(bytes, view, o)
    if (record === null) return { records, validLength: o, torn: true }
    records.push(record.value)
    o = record.end
  }
  return { records, validLength: o, torn: false }
}

/** Decodes one record (an IndexedDB value); null if torn or corrupt. */
export function decodeRecord (bytes) {
  const r = decodeOne(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0)
  return r === null || r.end !== bytes.length ? null : r.value
}

/** The sequence number in a record's header, unchecked (the record is verified when replayed). */
export function recordSeq (bytes) {
  if (bytes.length < HEADER + 8) return null
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(HEADER, true))
}

function decodeOne (bytes, view, start) {
  if (start + HEADER > bytes.length) return null
  const size = view.getUint32(start, true)
  const end = start + HEADER + size
  if (size < 12 || end > bytes.length) return null
  const body = bytes.subarray(start + HEADER, end)
  if (crc32(body) !== view.getUint32(start + 4, true)) return null
  try {
    let o = start + HEADER
    const seq = Number(view.getBigUint64(o, true)); o += 8
    const count = view.getUint32(o, true); o += 4
    const writes = []
    for (let i = 0; i < count; i++) {
      const kind = view.getUint8(o); o += 1
      const sqlLength = view.getUint32(o, true); o += 4
      const sql = decoder.decode(bytes.subarray(o, o + sqlLength)); o += sqlLength
      const paramsLength = view.getUint32(o, true); o += 4
      const params = bytes.slice(o, o + paramsLength); o += paramsLength
      if (o > end) return null
      writes.push({ kind, sql, params })
    }
    return o === end ? { value: { seq, writes, bytes: end - start }, end } : null
  } catch {
    return null // a checksum collision on garbage: treat as torn
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** CRC-32 (IEEE), as zlib computes it. */
export function crc32 (bytes) {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
