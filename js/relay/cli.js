#!/usr/bin/env node
/**
 * `npm run relay`: runs the relay alone. RELAY_PORT (default 8081) and
 * RELAY_HOST (default 127.0.0.1) pick where it listens. RELAY_KEY_FILE, if
 * set, keeps the relay's key (and so its address) across restarts: the file is
 * created on first start. Mail for absent peers is kept in RELAY_MAILBOX_DIR
 * (default .hearth/mailbox; `off`: none) for RELAY_MAILBOX_TTL_DAYS (default 14).
 * RELAY_PEERS (comma-separated relay multiaddrs) links it with other relays,
 * so peers find each other across them (links.js).
 * RELAY_MAX_RESERVATIONS and the other limits: from-env.js lists them.
 * Memory (issue 17, relay.compare): the live heap is ~20 MiB at 50 peers;
 * resident memory (~80 MiB idle, 115-130 MiB under load) is Node and
 * libp2p's code plus V8's young generation, which grows to 3 x 16 MiB under a
 * relay's flow of short-lived buffers. `node --max-semi-space-size=2
 * --optimize-for-size js/relay/cli.js` keeps it at 80-100 MiB for ~1.7x the
 * CPU per relayed request, so it is not the default.
 */
import '../p2p/node-env.js'
import { startRelayFromEnv } from './from-env.js'

const relay = await startRelayFromEnv(process.env, console)
const shutdown = async () => {
  await relay.stop()
  process.exit(0)
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
