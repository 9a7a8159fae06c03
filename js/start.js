/**
 * `npm start`: everything a deployment of Hearth needs beside a CDN, on one
 * machine. Today that is the static site (dist/); the libp2p relay joins here.
 *
 * Environment: PORT (default 8080), HOST (default 127.0.0.1).
 */
import { startSite } from './site/serve.js'

const port = process.env.PORT === undefined ? 8080 : Number(process.env.PORT)
const host = process.env.HOST ?? '127.0.0.1'

try {
  const site = await startSite({ port, host })
  console.log(`Hearth is served at ${site.url}`)
  const stop = async () => {
    await site.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} catch (err) {
  console.error(`hearth: cannot start: ${err.message}`)
  process.exit(1)
}
