/**
 * The relay of the relay.mailbox benchmark, in its own process so its CPU
 * time is its own: started by bench/mailbox.js with fork(), mailbox options
 * as JSON in argv[2]. Sends {addr} once listening; answers 'usage' with
 * {cpu: process.cpuUsage(), stats: the mailbox's contents}.
 */
import '../js/p2p/node-env.js'
import { createRelay } from '../js/relay/index.js'

const relay = createRelay({ port: 0, mailbox: JSON.parse(process.argv[2]) })
await relay.start()
process.on('message', (message) => {
  if (message === 'usage') process.send({ cpu: process.cpuUsage(), stats: relay.mailboxStats() })
})
process.on('disconnect', () => relay.stop().finally(() => process.exit(0)))
process.send({ addr: relay.multiaddrs()[0] })
