import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMarkdown } from './markdown.js'

const { toContent } = createMarkdown()

test('plain text is sent without formatted_body', () => {
  for (const text of ['hello', 'two\nlines', 'it\'s "quoted" & <b>typed</b>', '<script>alert(1)</script>', '🎉 :)']) {
    assert.deepEqual(toContent(text), { msgtype: 'm.text', body: text }, text)
  }
})

test('Markdown becomes formatted_body; body stays as typed', () => {
  const cases = [
    ['**bold** _it_ `code`', '<p><strong>bold</strong> <em>it</em> <code>code</code></p>'],
    ['```js\nlet x = 1 < 2\n```', '<pre><code class="language-js">let x = 1 &lt; 2\n</code></pre>'],
    ['- one\n- two', '<ul>\n<li>one</li>\n<li>two</li>\n</ul>'],
    ['> quote', '<blockquote>\n<p>quote</p>\n</blockquote>'],
    ['[link](https://example.org)', '<p><a href="https://example.org">link</a></p>']
  ]
  for (const [text, html] of cases) {
    assert.deepEqual(toContent(text), { msgtype: 'm.text', body: text, format: 'org.matrix.custom.html', formatted_body: html }, text)
  }
})

test('raw HTML in Markdown is escaped, not passed on', () => {
  assert.equal(toContent('**x** <img src=x onerror=alert(1)>').formatted_body, '<p><strong>x</strong> &lt;img src=x onerror=alert(1)&gt;</p>')
})
