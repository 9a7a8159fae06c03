/**
 * The composer's Markdown: what a person types becomes a message's content,
 * with `body` the text as typed (what clients without HTML show, and what an
 * edit starts from) and, when the Markdown formats anything, an
 * org.matrix.custom.html `formatted_body`.
 * Spec: https://spec.matrix.org/v1.11/client-server-api/#mroommessage-msgtypes
 *
 * Raw HTML typed into the composer is sent as text, not markup: a person
 * writing "<b>" means the characters. Receivers sanitise anyway (rich-text.js).
 */
import { Marked } from 'marked'

const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" }

/** @returns {{toContent: (text: string, msgtype?: string) => object}} */
export function createMarkdown () {
  const marked = new Marked({
    gfm: true,
    breaks: true, // a line break in the composer is one in the message, as in every chat app
    renderer: { html: ({ text }) => escapeHtml(text) }
  })

  function toContent (text, msgtype = 'm.text') {
    const content = { msgtype, body: text }
    const html = marked.parse(text).trim()
    if (!isPlain(html, text)) {
      content.format = 'org.matrix.custom.html'
      content.formatted_body = html
    }
    return content
  }

  return { toContent }
}

/**
 * Whether the HTML says no more than the text: one paragraph (or none) of
 * escaped text and line breaks. Then no formatted_body is sent.
 */
function isPlain (html, text) {
  const inner = html.replace(/^<p>([\s\S]*)<\/p>$/, '$1').replace(/<br>/g, '\n')
  if (/<[a-z/]/i.test(inner)) return false
  return inner.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]) === text.trim()
}

export function escapeHtml (text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
