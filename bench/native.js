/**
 * clientapi.native: the client API of the native Go server, measured by
 * go/cmd/hearth-bench the same way bench/browser.js measures the wasm server
 * in a service worker (send → arrival in a waiting /sync long-poll). The
 * harness divides the two (clientapi.ratio.*).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export async function clientapiNative ({ root, quick, deadline }) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-go-'))
  try {
    const bin = join(dir, 'hearth-bench')
    await run('go', ['build', '-o', bin, './go/cmd/hearth-bench'], { cwd: root, timeout: 120_000 })
    const seconds = Math.max(5, Math.floor((deadline - Date.now()) / 1000) - 5)
    const { stdout } = await run(bin, ['-messages', quick ? '100' : '500', '-timeout', `${seconds}s`], {
      timeout: (seconds + 10) * 1000, maxBuffer: 1 << 20
    })
    return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
