/**
 * Plain URLs in message text become links. Only http(s): other schemes are
 * left as text, so nothing typed can become a javascript: link.
 */

const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi
const HAS_URL = /\bhttps?:\/\//i
/** Punctuation that ends a sentence, not the URL ("see https://x.org."). */
const TRAILING = /[.,;:!?'"*_]+$/

/**
 * Splits text into pieces: {text} or {text, url}.
 * @returns {Array<{text: string, url?: string}>}
 */
export function findLinks (text) {
  const out = []
  let last = 0
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0].replace(TRAILING, '')
    // A closing parenthesis belongs to the URL only if it opened one: "(see https://x.org/a)".
    while (url.endsWith(')') && count(url, '(') < count(url, ')')) url = url.slice(0, -1).replace(TRAILING, '')
    if (match.index > last) out.push({ text: text.slice(last, match.index) })
    out.push({ text: url, url })
    last = match.index + url.length
  }
  if (last < text.length) out.push({ text: text.slice(last) })
  return out
}

function count (s, c) {
  return s.split(c).length - 1
}

/** DOM nodes for text with its URLs as links that open in a new tab. */
export function linkifyText (text) {
  return findLinks(text).map(({ text, url }) => {
    if (!url) return document.createTextNode(text)
    const a = document.createElement('a')
    a.href = url
    a.textContent = text
    return opensOutside(a)
  })
}

/**
 * A link out of Hearth opens in a new tab, and the page it opens gets no
 * handle on ours (noopener), no referrer, and no search-ranking vote.
 */
export function opensOutside (a) {
  a.target = '_blank'
  a.rel = 'noopener noreferrer nofollow'
  return a
}

/** Links the URLs in root's text, except inside links and code. */
export function linkifyTree (root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => node.parentElement?.closest('a, code, pre') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT
  })
  const texts = []
  while (walker.nextNode()) texts.push(walker.currentNode)
  for (const node of texts) {
    if (HAS_URL.test(node.data)) node.replaceWith(...linkifyText(node.data))
  }
}
