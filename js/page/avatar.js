/**
 * Avatars of people and rooms: the picture (a square thumbnail from our
 * server, cropped to fill) over initials on a colour derived from the ID, so
 * a missing or broken picture still shows who it is.
 */
import { h } from './dom.js'
import { mediaUrl } from './matrix.js'

/**
 * @param {{id: string, name: string, url?: string|null, preview?: string|null, size?: number, testid?: string}} who
 *   id: user or room ID (picks the colour); url: mxc: URI of the picture;
 *   preview: a picture chosen but not uploaded yet (an object URL), shown instead; size: CSS px
 */
export function avatarNode ({ id, name, url, preview = null, size = 32, testid = 'avatar' }) {
  const src = preview ?? mediaUrl(url, { width: size * 2, height: size * 2, method: 'crop' })
  const el = h('span', {
    className: 'avatar',
    'aria-hidden': 'true',
    style: `--size: ${size}px; --hue: ${hue(id)}`,
    dataset: { testid, image: String(Boolean(src)) }
  }, initials(name || id))
  if (src) {
    el.append(h('img', {
      src,
      alt: '',
      loading: 'lazy',
      onerror: (e) => { e.currentTarget.remove(); el.dataset.image = 'false' }
    }))
  }
  return el
}

/** "Alice Smith" → "AS", "@bob:x" → "B" (an ID, user or room, gives one letter). */
export function initials (name) {
  const isId = /^[@#!+]/.test(name)
  const words = name.replace(/^[@#!+]/, '').split(/[\s:._-]+/).filter(Boolean)
  const letters = words.length > 1 && !isId ? [words[0], words[1]] : [words[0] ?? '?']
  return letters.map((w) => [...w][0].toUpperCase()).join('')
}

/** A stable hue for an ID. */
function hue (id = '') {
  let n = 0
  for (const c of id) n = (n * 31 + c.codePointAt(0)) >>> 0
  return n % 360
}
