/**
 * Mailbox frames (MAILBOX_PROTOCOL), both ends. Each length-prefixed frame is
 *
 *   u32 BE head length | head (UTF-8 JSON object) | payload (the rest, may be empty)
 *
 * Peer → relay:
 *   {id, op: 'deposit', from, to, ref} + sealed bytes
 *   {op: 'ack', mail: [mid, …]}            done with these mails
 *   {op: 'ack-notices', notices: [nid, …]} recorded these notices
 * Relay → peer:
 *   {mail: {mid, from, ref, depositedAt}} + sealed bytes
 *   {notice: {nid, kind: 'delivered'|'expired', to, ref, at}}
 *   {id, ok: true, expiresAt} | {id, error: {name, message, retryAfterMs?}}
 * Either side ignores ops and messages it does not know (newer versions may say more).
 */
import { lpStream } from '@libp2p/utils'
import { MAX_HEAD_BYTES, MAX_MAILBOX_FRAME_BYTES } from './constants.js'
import { P2PProtocolError } from './errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const EMPTY = new Uint8Array(0)

/** Bytes of the varint that prefixes the largest frame. */
const MAX_LENGTH_BYTES = 4

/**
 * The mailbox stream as length-prefixed frames, both ends.
 * @param {import('@libp2p/interface').Stream} stream
 * @returns {ReturnType<typeof lpStream>} read() rejects on a frame over the limit or a
 *   length prefix that is not a varint of at most 4 bytes
 */
export function mailboxStream (stream) {
  return lpStream(stream, {
    maxDataLength: MAX_MAILBOX_FRAME_BYTES,
    maxLengthLength: MAX_LENGTH_BYTES,
    // a whole frame must fit, and the other side may send a few back to back
    maxBufferSize: 4 * MAX_MAILBOX_FRAME_BYTES,
    lengthDecoder: decodeLength
  })
}

/**
 * Unsigned varint of at most 4 bytes. lpStream reads a prefix a byte at a time
 * while the decoder throws RangeError, and checks the prefix's length only
 * once it decodes: endless continuation bytes would have it wait forever.
 */
function decodeLength (list) {
  let value = 0
  for (let i = 0; i < list.byteLength && i < MAX_LENGTH_BYTES; i++) {
    const byte = list.get(i)
    value += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) return value
  }
  if (list.byteLength >= MAX_LENGTH_BYTES) throw new P2PProtocolError(`a mailbox frame length is not a varint of at most ${MAX_LENGTH_BYTES} bytes`)
  throw new RangeError('more bytes needed')
}

/**
 * @param {object} head JSON-able
 * @param {Uint8Array} [payload]
 * @returns {Uint8Array} one frame, without its length prefix (lpStream adds it)
 */
export function encodeFrame (head, payload = EMPTY) {
  const headBytes = encoder.encode(JSON.stringify(head))
  const frame = new Uint8Array(4 + headBytes.byteLength + payload.byteLength)
  new DataView(frame.buffer).setUint32(0, headBytes.byteLength)
  frame.set(headBytes, 4)
  frame.set(payload, 4 + headBytes.byteLength)
  return frame
}

/**
 * @param {Uint8Array} frame one frame as lpStream read it (subarray() of its list)
 * @returns {{head: Record<string, unknown>, payload: Uint8Array}} payload is a view into frame
 * @throws {P2PProtocolError} short frame, head over 64 KiB or past the frame, head not a JSON object
 */
export function decodeFrame (frame) {
  if (frame.byteLength < 4) throw new P2PProtocolError(`mailbox frame of ${frame.byteLength} bytes has no head length`)
  const headLength = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0)
  if (headLength > MAX_HEAD_BYTES || headLength > frame.byteLength - 4) {
    throw new P2PProtocolError(`mailbox frame announces a ${headLength}-byte head in ${frame.byteLength} bytes`)
  }
  let head
  try {
    head = JSON.parse(decoder.decode(frame.subarray(4, 4 + headLength)))
  } catch (err) {
    throw new P2PProtocolError(`mailbox frame head is not JSON: ${err.message}`, { cause: err })
  }
  if (head === null || typeof head !== 'object' || Array.isArray(head)) {
    throw new P2PProtocolError('mailbox frame head is not a JSON object')
  }
  return { head, payload: frame.subarray(4 + headLength) }
}

/**
 * Sends frames on a length-prefixed stream one after another, so at most one
 * write waits for the stream to drain and frames keep their order.
 * @param {{write: (bytes: Uint8Array) => Promise<void>}} lp lpStream of the mailbox stream
 * @param {(err: Error) => void} onError the stream broke: the caller closes it
 * @returns {(head: object, payload?: Uint8Array) => void}
 */
export function frameSender (lp, onError) {
  let writing = Promise.resolve()
  let failed = false
  return (head, payload) => {
    if (failed) return
    const frame = encodeFrame(head, payload)
    writing = writing.then(() => failed ? undefined : lp.write(frame)).catch(err => {
      if (!failed) onError(err)
      failed = true
    })
  }
}
