import { test } from 'node:test'
import assert from 'node:assert/strict'
import { findParameters, castParameters } from './sqlparams.js'

test('parameters are numbered the way SQLite numbers them', () => {
  const cases = [
    ['SELECT ?, ?', [1, 2]],
    ['SELECT ?3, ?, ?1', [3, 4, 1]],
    ['SELECT :a, @b, :a, $c', [1, 2, 1, 3]],
    ["SELECT '?', \"?\", `?`, [?], ? -- ?\n, /* ? */ ?", [1, 2]],
    ["SELECT 'it''s ?', ?", [1]],
    ['SELECT a$b FROM t WHERE a = :n', [1]],
    ['SELECT x:y', [1]] // SQLite reads :y as a parameter too
  ]
  for (const [sql, want] of cases) {
    assert.deepEqual(findParameters(sql).map(p => p.index), want, sql)
  }
})

test('castParameters wraps only the chosen indexes, at every occurrence', () => {
  assert.equal(castParameters('SELECT ?, ?', new Set([2])), 'SELECT ?, CAST(? AS INTEGER)')
  assert.equal(castParameters('SELECT :a + :a, ?', new Set([1])), 'SELECT CAST(:a AS INTEGER) + CAST(:a AS INTEGER), ?')
  assert.equal(castParameters("SELECT '?' || ?", new Set([1])), "SELECT '?' || CAST(? AS INTEGER)")
})
