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
