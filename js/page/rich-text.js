/**
 * A message's text as DOM: formatted_body (org.matrix.custom.html) through
 * DOMPurify with the spec's HTML subset, or the plain body; URLs linked in
 * both. Spec: https://spec.matrix.org/v1.11/client-server-api/#mroommessage-msgtypes
 *
 * Others' HTML is hostile until proven otherwise: only the listed tags and
 * attributes survive (no scripts, styles or event handlers), links only to
 * http(s), mailto and matrix schemes, and images only from mxc: URIs, loaded
 * as thumbnails from our own server. A remote image is shown as a link to it
 * (loading it would tell its server who reads the message), with a "Load
 * image" button: that one image is loaded when the reader asks (no referrer
 * sent), never by itself.
 */
import createDOMPurify from 'dompurify'
import { linkifyText, linkifyTree, opensOutside } from './linkify.js'

/** The spec's "HTML subset" of tags, minus mx-reply (a legacy quote: replies are drawn by the client). */
const TAGS = ['font', 'del', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'p', 'a', 'ul', 'ol', 'sup', 'sub',
  'li', 'b', 'i', 'u', 'strong', 'em', 's', 'code', 'hr', 'br', 'div', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
  'caption', 'pre', 'span', 'img', 'details', 'summary']
const ATTRS = ['href', 'src', 'alt', 'title', 'width', 'height', 'start', 'color', 'class',
  'data-mx-color', 'data-mx-bg-color', 'data-mx-spoiler']
/** Schemes a link or image may use; anything else (javascript:, data:, relative) loses the attribute. */
const URI = /^(?:https?|mailto|matrix|mxc):/i
const COLOR = /^#[0-9a-f]{6}$/i
/** Inline images are at most this big (CSS px), and fetched as a thumbnail of it. */
const IMAGE_BOX = 320

/**
 * @param {{mediaUrl: (mxc: string, thumbnail?: {width, height}) => string|null}} options
 *   mediaUrl: where our server serves an mxc: URI (null if it is not one)
 * @returns {{render: (content: object) => Node[]}}
 */
export function createRichText ({ mediaUrl }) {
  const purify = createDOMPurify(window)
  purify.addHook('afterSanitizeAttributes', tidy)
  /** Remote images the reader chose to load, by URL: they stay loaded when their message is drawn again. */
  const consented = new Set()

  /** Fixes up one element that passed the allow-list. */
  function tidy (node) {
    switch (node.tagName) {
      case 'A':
        if (node.getAttribute('class') !== 'remote-image') node.removeAttribute('class')
        opensOutside(node)
        break
      case 'IMG':
        image(node)
        break
      case 'CODE':
        // Only a code block's language, which we may style.
        if (!/^language-[\w-]+$/.test(node.getAttribute('class') ?? '')) node.removeAttribute('class')
        break
      default:
        node.removeAttribute('class')
    }
    for (const [attr, prop] of [['data-mx-color', 'color'], ['data-mx-bg-color', 'backgroundColor'], ['color', 'color']]) {
      const value = node.getAttribute(attr)
      if (value && COLOR.test(value)) node.style[prop] = value
      node.removeAttribute(attr)
    }
  }

  function image (img) {
    const src = img.getAttribute('src') ?? ''
    const width = Math.min(Number(img.getAttribute('width')) || IMAGE_BOX, IMAGE_BOX)
    const height = Math.min(Number(img.getAttribute('height')) || IMAGE_BOX, IMAGE_BOX)
    const url = mediaUrl(src, { width, height })
    if (url) {
      img.src = url
      img.loading = 'lazy'
      img.style.maxWidth = `${width}px`
      img.style.maxHeight = `${height}px`
      return
    }
    // A remote image: a link to it instead, never loaded by us.
    const label = img.getAttribute('alt') || img.getAttribute('title') || 'image'
    const link = document.createElement('a')
    link.textContent = `🖼 ${label}`
    link.title = src ? `Remote image, not loaded: ${src}` : 'Image without a source'
    link.className = 'remote-image'
    if (/^https?:/i.test(src)) {
      link.href = src
      opensOutside(link)
    }
    img.replaceWith(link)
  }

  /** Replaces the link to a remote image with the image, loaded without a referrer. */
  function showRemote (link) {
    const img = document.createElement('img')
    img.referrerPolicy = 'no-referrer'
    img.alt = link.textContent.replace(/^🖼 /, '')
    img.dataset.testid = 'remote-image-loaded'
    img.style.maxWidth = `${IMAGE_BOX}px`
    img.style.maxHeight = `${IMAGE_BOX}px`
    img.src = link.href
    link.replaceWith(img)
  }

  /** The reader's consent to one remote image: the link becomes the picture. */
  function loadButton (link) {
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'small load-remote'
    button.dataset.testid = 'load-remote-image'
    button.textContent = 'Load image'
    button.title = `Load it from ${new URL(link.href).host}: that server will see that you read this`
    button.addEventListener('click', () => {
      consented.add(link.href)
      showRemote(link)
      button.remove()
    })
    return button
  }

  function render (content) {
    const body = typeof content?.body === 'string' ? content.body : ''
    if (content?.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string') {
      const fragment = purify.sanitize(content.formatted_body, {
        ALLOWED_TAGS: TAGS,
        ALLOWED_ATTR: ATTRS,
        ALLOWED_URI_REGEXP: URI,
        ALLOW_DATA_ATTR: false,
        ALLOW_ARIA_ATTR: false,
        ADD_FORBID_CONTENTS: ['mx-reply'],
        RETURN_DOM_FRAGMENT: true
      })
      linkifyTree(fragment)
      for (const link of fragment.querySelectorAll('a.remote-image[href]')) {
        if (consented.has(link.href)) showRemote(link)
        else link.after(loadButton(link))
      }
      return [...fragment.childNodes]
    }
    return linkifyText(body)
  }

  return { render }
}
