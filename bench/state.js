/**
 * state: what state and events cost in the database as a room grows
 * (go/room/bench_test.go, native Go, pure-Go SQLite):
 *
 *   state.join.{local,federation}.{10,100,1000}members.{rows,bytes,ms,cpu_ms}
 *       rows, bytes (database pages in use) and time per join over the joins
 *       just before the room reaches that size; federation: the joins of a
 *       second server's users as the room's server receives them. cpu_ms is
 *       the process's CPU time: steadier than wall time on a shared machine
 *   state.join.{local,federation}.all.*   the same over all 1,000 joins
 *   state.message.{rows,bytes,ms,cpu_ms}   per message of a 200-byte body (1,000 of
 *       them, each with a transaction ID); bytes' note gives its JSON's size
 *   state.lookup.{what}.{N}members  reading state at an event:
 *       state_group_load (the state's event IDs: state_ids), members_at
 *       (/members?at=), state_and_auth_chain_at (state, send_join),
 *       join_template (make_join: the auth events of a new event), and
 *       fork_resolve_and_merge (state resolution of a fork, received twice:
 *       the forked event and the event merging it)
 *
 * The Go benchmarks print one JSON object per line ({"bench": …}); this turns
 * them into rows.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { errorRow, valueRow } from './rows.js'

const run = promisify(execFile)

export async function state ({ root, deadline }) {
  let stdout
  try {
    ({ stdout } = await run('go', ['test', '-run', '^$', '-bench', '^BenchmarkState', '-benchtime', '1x', './go/room/'], {
      cwd: root, timeout: Math.max(15_000, deadline - Date.now() - 2_000), maxBuffer: 8 << 20
    }))
  } catch (err) {
    return [errorRow('state', err)]
  }
  const rows = []
  const lines = stdout.split('\n').filter((line) => line.startsWith('{"bench"')).map((line) => JSON.parse(line))
  const message = lines.find((r) => r.bench === 'state.message')
  for (const r of lines) rows.push(...toRows(r, message))
  return rows
}

function toRows (r, message) {
  if (r.bench === 'state.join' || r.bench === 'state.join.all') {
    const at = r.bench === 'state.join' ? `${r.members}members` : 'all'
    const name = `state.join.${r.mode}.${at}`
    const vsMessage = (field) => message ? { note: `${round2(r[field] / message[field.replace('join', 'message')])}x a message` } : {}
    return [
      valueRow(`${name}.rows`, 'rows', r.rows_per_join, vsMessage('rows_per_join')),
      valueRow(`${name}.bytes`, 'bytes', r.bytes_per_join, vsMessage('bytes_per_join')),
      valueRow(`${name}.ms`, 'ms', r.ms_per_join),
      valueRow(`${name}.cpu_ms`, 'ms', r.cpu_ms_per_join)
    ]
  }
  if (r.bench === 'state.message') {
    return [
      valueRow('state.message.rows', 'rows', r.rows_per_message, { samples: r.messages }),
      valueRow('state.message.bytes', 'bytes', r.bytes_per_message, {
        samples: r.messages,
        note: `${round2(r.bytes_per_message / r.json_bytes_per_message)}x its ${Math.round(r.json_bytes_per_message)}-byte JSON`
      }),
      valueRow('state.message.ms', 'ms', r.ms_per_message, { samples: r.messages }),
      valueRow('state.message.cpu_ms', 'ms', r.cpu_ms_per_message, { samples: r.messages })
    ]
  }
  if (r.bench === 'state.lookup') {
    return [valueRow(`state.lookup.${r.what}.${r.members}members`, 'ms', r.ms)]
  }
  return [errorRow(`state.${r.bench}`, `unknown row ${JSON.stringify(r)}`)]
}

function round2 (x) {
  return Math.round(x * 100) / 100
}
