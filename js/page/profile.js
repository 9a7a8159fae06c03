/**
 * The profile screen: one's own display name and avatar. The picture is
 * uploaded to our media repository and shown square (cropped to fill, no
 * crop tool); the server copies both into every room we are in.
 */
import { avatarNode } from './avatar.js'

/**
 * @param {{client: object, session: {userId: string, displayName?: string}, act: Function,
 *   onChanged: () => void, signal: AbortSignal}} options onChanged: the name or picture changed
 */
export function createProfile ({ client, session, act, onChanged, signal }) {
  const $ = (id) => document.getElementById(id)
  const dialog = $('profile')
  const form = $('profile-form')
  const fileInput = $('profile-avatar-file')
  /** url: the saved picture (mxc:); file: a newly chosen one; removed: the saved one is to go */
  const draft = { url: null, file: null, removed: false, preview: null }

  function showAvatar () {
    const name = $('profile-name').value || session.displayName || session.userId
    const node = avatarNode({ id: session.userId, name, url: draft.removed ? null : draft.url, preview: draft.preview, size: 96, testid: 'profile-avatar-image' })
    $('profile-avatar').replaceChildren(node)
    $('profile-avatar-remove').hidden = !(draft.file || (draft.url && !draft.removed))
  }

  function setPreview (file) {
    if (draft.preview) URL.revokeObjectURL(draft.preview)
    draft.file = file
    draft.preview = file ? URL.createObjectURL(file) : null
    showAvatar()
  }

  async function open () {
    $('profile-user-id').textContent = session.userId
    $('profile-name').value = session.displayName ?? ''
    $('profile-status').textContent = ''
    $('profile-error').hidden = true
    Object.assign(draft, { url: session.avatarUrl ?? null, removed: false })
    setPreview(null)
    dialog.showModal()
    try {
      const profile = await client.getProfile(session.userId)
      draft.url = profile.avatar_url || null
      session.avatarUrl = draft.url
      if (!$('profile-name').value && profile.displayname) $('profile-name').value = profile.displayname
      showAvatar()
    } catch {} // no profile yet: the form starts empty
  }

  const on = (target, type, fn) => target.addEventListener(type, fn, { signal })
  on($('profile-open'), 'click', open)
  on(fileInput, 'change', () => {
    const file = fileInput.files?.[0]
    if (file) {
      draft.removed = false
      setPreview(file)
    }
    fileInput.value = ''
  })
  on($('profile-avatar-remove'), 'click', () => {
    draft.removed = true
    setPreview(null)
  })
  on($('profile-name'), 'input', showAvatar)
  on(form, 'submit', (event) => {
    event.preventDefault()
    act(form, 'profile-error', async () => {
      const name = $('profile-name').value.trim()
      if (!name) throw new Error('A display name cannot be empty.')
      $('profile-status').textContent = 'Saving…'
      if (draft.file) {
        const url = await client.upload(draft.file)
        await client.setAvatarUrl(session.userId, url)
        draft.url = url
        setPreview(null)
      } else if (draft.removed && draft.url) {
        await client.setAvatarUrl(session.userId, '')
        draft.url = null
      }
      session.avatarUrl = draft.url
      if (name !== session.displayName) {
        await client.setDisplayName(session.userId, name)
        session.displayName = name
      }
      draft.removed = false
      showAvatar()
      $('profile-status').textContent = 'Saved'
      onChanged()
    })
  })

  return { open }
}
