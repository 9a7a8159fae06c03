/**
 * Protocol IDs and limits shared by peers and the relay. A change to a wire
 * format gets a new protocol ID, never a silent change under the old one.
 */

/** One Matrix federation request and its response per stream (framing.js). */
export const FEDERATION_PROTOCOL = '/hearth/federation/1.0.0'

/**
 * The same messages, many exchanges per stream, one at a time (request, then
 * its response, then the next request), with no half-close between them
 * (request-streams.js). Peers offer it first and fall back to FEDERATION_PROTOCOL.
 */
export const FEDERATION_STREAM_PROTOCOL = '/hearth/federation/1.1.0'

/**
 * Presence on a relay (presence.js): a peer opens one long-lived stream to the
 * relay once its reservation is made and says which peers it watches; the
 * relay says which of those are there, then their joins and leaves. A peer
 * is "present" while that stream is open.
 */
export const PRESENCE_PROTOCOL = '/hearth/presence/2.0.0'

/**
 * Setting up a direct WebRTC link (direct/links.js): on a stream through the
 * relay, the offerer sends {sdp} and the answerer replies {sdp} or {error}.
 * The relayed connection is authenticated (noise), so the SDP, and with it
 * the DTLS fingerprint the link is bound to, comes from that peer.
 */
export const SIGNAL_PROTOCOL = '/hearth/webrtc-signal/1.0.0'

/**
 * Mail held by a relay for peers that are away (mailbox.js, js/relay/mailbox):
 * one long-lived stream per peer per relay, opened once the reservation is
 * made. Frames are length-prefixed (unsigned varint); each frame is
 * `u32 BE head length | head (UTF-8 JSON) | payload (the rest, may be empty)`,
 * so sealed bytes never pass through JSON. The ops and answers are listed in
 * mailbox-frames.js.
 */
export const MAILBOX_PROTOCOL = '/hearth/mailbox/1.0.0'

/**
 * Finding peers across linked relays (routing.js, js/relay/links.js): one
 * request and one answer per stream, each a length-prefixed (unsigned varint)
 * UTF-8 JSON message. A peer asks its relay which other relays it is linked
 * with, and on which relays a peer ID holds a reservation or keeps a
 * mailbox; relays link to each other with it.
 */
export const ROUTING_PROTOCOL = '/hearth/routing/1.0.0'

/** Largest routing message, in bytes. */
export const MAX_ROUTING_MESSAGE_BYTES = 64 * 1024

/** Largest sealed payload any relay may take in one deposit (each relay sets its own limit up to this). */
export const MAX_MAILBOX_DEPOSIT_BYTES = 4 * 1024 * 1024

/** Largest mailbox frame: the largest deposit plus its head. */
export const MAX_MAILBOX_FRAME_BYTES = MAX_MAILBOX_DEPOSIT_BYTES + 64 * 1024

/** Mails a relay pushes on one stream before the peer acks some: bounds what a slow peer holds in memory. */
export const MAILBOX_PUSH_WINDOW = 16

/** A deposit's ref (the sender's transaction ID): short, and safe to log and compare. */
export const MAILBOX_REF_PATTERN = /^[A-Za-z0-9._~-]{1,100}$/

/** Largest request or response head (JSON), in bytes. */
export const MAX_HEAD_BYTES = 64 * 1024

/** Largest request or response body, in bytes. Matrix PDUs are 64 KiB at most; media and
 * large /send batches stay well under this. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

/** Most bytes (heads and announced bodies) of incoming requests one remote peer may have
 * in flight at once (inflight.js): two requests of the largest size. Past it, a request
 * is refused with 429 M_LIMIT_EXCEEDED before its body is read. */
export const MAX_IN_FLIGHT_BYTES_PER_PEER = 2 * MAX_BODY_BYTES

/** Largest presence message (a watch list or its answer), in bytes. */
export const MAX_PRESENCE_MESSAGE_BYTES = 256 * 1024

/** Most peers one presence subscription may watch (the servers a peer shares rooms with). */
export const MAX_WATCHED = 2048

/** Only these paths may reach Go's serve from another peer (server-server API, keys). */
export const FEDERATION_PATH_PREFIXES = Object.freeze(['/_matrix/federation/', '/_matrix/key/'])

export const DEFAULTS = Object.freeze({
  /** ms for a whole outgoing request: dial, send, wait for the answer. */
  requestTimeout: 60_000,
  /** ms to open a connection to a peer through the relay; short, so an absent peer fails fast. */
  dialTimeout: 5_000,
  /** ms for an incoming request to arrive in full once its stream opened. */
  readTimeout: 15_000,
  /** ms Go may take to answer an incoming request. */
  serveTimeout: 60_000,
  /** ms to get a reservation on a relay: connect and reserve (one dial timeout each), with room to spare. */
  reservationTimeout: 15_000,
  /** ms between attempts to get back onto the relay after losing it (doubles, capped). */
  relayRetryMin: 500,
  /** relays a peer holds reservations on: the ones it was given, then learned ones up to this many */
  maxRelays: 2,
  /** ms a relay asks its linked relays where a peer is before answering with what it has */
  lookupTimeout: 1_500,
  relayRetryMax: 15_000
})
