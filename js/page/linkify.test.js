import { test } from 'node:test'
import assert from 'node:assert/strict'
import { findLinks } from './linkify.js'

test('plain URLs are found, sentence punctuation and unmatched parentheses left out', () => {
  assert.deepEqual(findLinks('see https://example.org/a?b=1.'), [{ text: 'see ' }, { text: 'https://example.org/a?b=1', url: 'https://example.org/a?b=1' }, { text: '.' }])
  assert.deepEqual(findLinks('(https://en.wikipedia.org/wiki/Foo_(bar))').map((p) => p.url).filter(Boolean), ['https://en.wikipedia.org/wiki/Foo_(bar)'])
  assert.deepEqual(findLinks('no links here'), [{ text: 'no links here' }])
  assert.deepEqual(findLinks('javascript:alert(1) ftp://x'), [{ text: 'javascript:alert(1) ftp://x' }])
})
