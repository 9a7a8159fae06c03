// Two copies of a core libp2p package make objects from one copy fail the
// other's instanceof/symbol checks in obscure ways (the anchor hit exactly this
// with peer-id and peer-info). Fail loudly instead, both on the lockfile and
// on what npm actually installed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const ROOT = new URL('../', import.meta.url)
const MUST_BE_SINGLE = ['@libp2p/interface', '@libp2p/peer-id', '@libp2p/crypto', '@multiformats/multiaddr']

test('package-lock.json holds one version of each core libp2p package', async () => {
  const lock = JSON.parse(await readFile(new URL('package-lock.json', ROOT), 'utf8'))
  const versions = new Map(MUST_BE_SINGLE.map(name => [name, new Set()]))
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    versions.get(name)?.add(entry.version)
  }
  for (const [name, found] of versions) {
    assert.equal(found.size, 1, `${name} appears in versions ${[...found].join(', ') || '(none)'}`)
  }
})

test('npm ls shows one version of each core libp2p package', { timeout: 60_000 }, async () => {
  let stdout
  try {
    ({ stdout } = await promisify(execFile)('npm', ['ls', '--all', '--json', ...MUST_BE_SINGLE],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }))
  } catch (err) {
    // npm ls exits non-zero on problems (invalid or extraneous packages) but still prints the tree
    if (err.stdout == null) throw err
    stdout = err.stdout
  }
  const versions = new Map(MUST_BE_SINGLE.map(name => [name, new Set()]))
  const walk = (node) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.version != null) versions.get(name)?.add(child.version)
      walk(child)
    }
  }
  walk(JSON.parse(stdout))
  for (const [name, found] of versions) {
    assert.equal(found.size, 1, `${name} installed in versions ${[...found].join(', ') || '(none)'}`)
  }
})
