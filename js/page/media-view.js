/**
 * Pictures and files in the timeline: an m.image as its thumbnail (from our
 * server's thumbnail endpoint) that opens the full picture in a dialog, any
 * other file as a download link with its name and size; while one of ours is
 * uploading, a preview and a progress bar.
 * Spec: https://spec.matrix.org/v1.11/client-server-api/#mimage and #mfile
 */
import { h } from './dom.js'
import { mediaUrl } from './matrix.js'
import { formatBytes } from './storage-status.js'

/** The box an inline picture fits in, CSS px (the thumbnail is asked for at twice that, for sharp screens). */
const BOX = { width: 320, height: 240 }

/** msgtypes drawn here rather than as text. */
export function isMedia (content) {
  return ['m.image', 'm.file', 'm.video', 'm.audio'].includes(content?.msgtype)
}

/**
 * @param {object} content the event's content
 * @param {{upload?: {loaded: number, total: number}, preview?: string}} echo while sending:
 *   upload progress, and an object URL of the local file
 */
export function mediaNode (content, { upload, preview } = {}) {
  const name = typeof content.body === 'string' && content.body ? content.body : 'file'
  const size = content.info?.size
  const progress = upload
    ? h('progress', { dataset: { testid: 'upload-progress' }, max: String(upload.total || 1), value: String(upload.loaded), 'aria-label': `Uploading ${name}` })
    : null
  if (content.msgtype === 'm.image' && (content.url || preview)) {
    const { width, height } = fit(content.info?.w, content.info?.h)
    const thumb = content.url ? mediaUrl(content.url, { width: width * 2, height: height * 2 }) : preview
    const img = h('img', { src: thumb, alt: name, width, height, loading: 'lazy', dataset: { testid: 'message-image' } })
    return h('div', { className: 'media' },
      content.url
        ? h('button', { type: 'button', className: 'image', 'aria-label': `Open the picture ${name}`, onclick: () => openImage(mediaUrl(content.url), name) }, img)
        : img,
      progress)
  }
  const href = content.url && mediaUrl(content.url)
  const label = `${name}${size ? ` (${formatBytes(size)})` : ''}`
  return h('div', { className: 'media file' },
    href
      ? h('a', { href: `${href}/${encodeURIComponent(name)}`, download: name, dataset: { testid: 'message-file' } }, `📎 ${label}`)
      : h('span', { dataset: { testid: 'message-file' } }, `📎 ${label}`),
    progress)
}

/** Width and height within BOX, keeping the picture's proportions (BOX itself when unknown). */
function fit (w, h) {
  if (!(w > 0 && h > 0)) return { ...BOX }
  const scale = Math.min(1, BOX.width / w, BOX.height / h)
  return { width: Math.round(w * scale), height: Math.round(h * scale) }
}

/** The full picture in the page's image dialog; Escape or a click closes it. */
function openImage (src, alt) {
  const dialog = document.getElementById('image-viewer')
  const img = dialog.querySelector('img')
  img.src = src
  img.alt = alt
  dialog.querySelector('a').href = src
  dialog.querySelector('a').download = alt
  dialog.showModal()
}
