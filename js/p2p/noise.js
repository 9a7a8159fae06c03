/**
 * @libp2p/noise, minus an exception per received message.
 *
 * Noise's encrypted stream (17.0.3) finds its frames with @libp2p/utils'
 * LengthPrefixedDecoder and noise's uint16BEDecode, which throws a RangeError
 * when fewer than two bytes are buffered; the decoder catches it to mean "need
 * more bytes". After the last whole frame of every incoming WebSocket message
 * the buffer is empty, so every message costs one thrown and caught error
 * (a stack trace captured through a generator): 16% of a busy relay's time in
 * issue 17's profile. Here each secured connection gets a decoder that checks
 * the length first. The connection is noise's own object, with the same
 * buffer (bytes that arrived during the swap are kept); if a future noise no
 * longer has that decoder, the connection is left as it is.
 *
 * Used by peers and the relay alike, in place of `noise()` from @libp2p/noise.
 */
import { InvalidParametersError } from '@libp2p/interface'
import { noise as libp2pNoise } from '@libp2p/noise'
import { LengthPrefixedDecoder } from '@libp2p/utils'

/** Noise transport messages: a 2-byte big-endian length, then at most 65535 bytes (noise spec §3). */
const LENGTH_BYTES = 2

/**
 * @param {Parameters<typeof libp2pNoise>[0]} [init] @libp2p/noise's options
 * @returns {ReturnType<typeof libp2pNoise>} a connection encrypter factory
 */
export function noise (init) {
  const inner = libp2pNoise(init)
  return components => {
    const encrypter = inner(components)
    return Object.assign(Object.create(encrypter), {
      async secureInbound (connection, options) {
        return withQuietDecoder(await encrypter.secureInbound(connection, options))
      },
      async secureOutbound (connection, options) {
        return withQuietDecoder(await encrypter.secureOutbound(connection, options))
      }
    })
  }
}

function withQuietDecoder (secured) {
  const stream = secured.connection
  if (stream?.decoder instanceof LengthPrefixedDecoder) stream.decoder = new Uint16Frames(stream.decoder)
  return secured
}

/**
 * Splits a byte stream into u16-length-prefixed frames, like the
 * LengthPrefixedDecoder it replaces (same buffer, same size limit), without
 * throwing when the length is not all there yet.
 */
export class Uint16Frames {
  /** @param {LengthPrefixedDecoder} replaced its buffered bytes and limit carry over */
  constructor (replaced) {
    this.buffer = replaced.buffer
    this.maxBufferSize = replaced.maxBufferSize
  }

  /** @param {Uint8Array|import('uint8arraylist').Uint8ArrayList} bytes @returns {Generator<import('uint8arraylist').Uint8ArrayList>} whole frames */
  * decode (bytes) {
    const buffer = this.buffer
    buffer.append(bytes)
    if (buffer.byteLength > this.maxBufferSize) {
      throw new InvalidParametersError(`noise: ${buffer.byteLength} bytes buffered, the limit is ${this.maxBufferSize}`)
    }
    while (buffer.byteLength >= LENGTH_BYTES) {
      const end = LENGTH_BYTES + ((buffer.get(0) << 8) | buffer.get(1))
      if (buffer.byteLength < end) break
      const frame = buffer.sublist(LENGTH_BYTES, end)
      buffer.consume(end)
      if (frame.byteLength > 0) yield frame
    }
  }
}
