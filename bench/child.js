/**
 * Runs one benchmark of bench/benchmarks.js in this process and sends its rows
 * to the parent (bench/run.js) over the IPC channel: {row} for each row a
 * benchmark emits as it goes (kept even if it is killed later), then {rows}
 * or {error}. stdout and stderr are free for logs (the Go server logs to stdout).
 *
 *   node bench/child.js NAME   (with an IPC channel; options arrive as the first message)
 */
import { BENCHMARKS } from './benchmarks.js'

const name = process.argv[2]
const bench = BENCHMARKS.find((b) => b.name === name)

process.once('message', async (options) => {
  let reply
  try {
    if (bench === undefined) throw new Error(`no benchmark named ${name}`)
    const mod = await import(bench.module)
    const rows = await mod[bench.fn]({
      ...options,
      log: (line) => console.error(`[${name}] ${line}`),
      emit: (row) => process.send({ row })
    })
    reply = { rows }
  } catch (err) {
    reply = { error: err?.stack ?? String(err) }
  }
  process.send(reply, () => process.exit(0))
})
