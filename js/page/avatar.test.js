import { test } from 'node:test'
import assert from 'node:assert/strict'
import { initials } from './avatar.js'

test('initials: two words give two letters, an ID or one word one, any script', () => {
  assert.equal(initials('Alice Liddell'), 'AL')
  assert.equal(initials('bob'), 'B')
  assert.equal(initials('@carol:12D3KooWabc'), 'C')
  assert.equal(initials('!room:server'), 'R')
  assert.equal(initials('élodie martin'), 'ÉM')
  assert.equal(initials('😀 party'), '😀P')
  assert.equal(initials(''), '?')
})
