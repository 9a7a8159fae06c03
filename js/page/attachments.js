/**
 * Files into the open room, three ways: the attach button (a file picker),
 * pasting into the composer (a screenshot, a copied file), and dropping onto
 * the room. Each file goes to onFiles; what a file becomes is app.js's job.
 */

/**
 * @param {{button: HTMLElement, input: HTMLInputElement, composer: HTMLElement, dropZone: HTMLElement,
 *   onFiles: (files: File[]) => void, signal: AbortSignal}} options
 */
export function wireAttachments ({ button, input, composer, dropZone, onFiles, signal }) {
  const on = (target, type, fn) => target.addEventListener(type, fn, { signal })
  on(button, 'click', () => input.click())
  on(input, 'change', () => {
    const files = [...input.files]
    input.value = '' // the same file again is a new choice
    if (files.length) onFiles(files)
  })
  on(composer, 'paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])]
    if (files.length === 0) return // text: the composer's own business
    event.preventDefault()
    onFiles(files)
  })
  const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files')
  on(dropZone, 'dragover', (event) => {
    if (!carriesFiles(event)) return
    event.preventDefault()
    dropZone.dataset.dropping = 'true'
  })
  on(dropZone, 'dragleave', (event) => {
    if (!dropZone.contains(event.relatedTarget)) delete dropZone.dataset.dropping
  })
  on(dropZone, 'drop', (event) => {
    delete dropZone.dataset.dropping
    const files = [...(event.dataTransfer?.files ?? [])]
    if (files.length === 0) return
    event.preventDefault()
    onFiles(files)
  })
}

/**
 * What a message about `file` says before its upload: m.image with its
 * size in pixels when the browser can decode it, else m.file.
 */
export async function fileContent (file) {
  const info = { mimetype: file.type || 'application/octet-stream', size: file.size }
  if (file.type.startsWith('image/')) {
    try {
      const bitmap = await createImageBitmap(file)
      info.w = bitmap.width
      info.h = bitmap.height
      bitmap.close()
      return { msgtype: 'm.image', body: file.name || 'image', info }
    } catch {
      // Not a picture this browser can show: send it as a file.
    }
  }
  return { msgtype: 'm.file', body: file.name || 'file', info }
}
