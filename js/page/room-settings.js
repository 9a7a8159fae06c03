/**
 * A room's settings: name, topic, picture, who may join (by invitation, or
 * anyone, and whether the room is listed in this server's public rooms), and
 * leaving it for good (leave, then forget: it is gone from every list).
 * Only what changed is sent, each as its state event; fields the user's
 * power level does not allow are shown but disabled.
 */
import { avatarNode } from './avatar.js'

/**
 * @param {{client: object, model: object, act: Function, onForgotten: (roomId) => void, signal: AbortSignal}} options
 */
export function createRoomSettings ({ client, model, act, onForgotten, signal }) {
  const $ = (id) => document.getElementById(id)
  const dialog = $('settings')
  const form = $('settings-form')
  const fileInput = $('settings-avatar-file')
  /** roomId; published: as the server said on opening; file: a new picture; preview: its object URL */
  const state = { roomId: null, published: null, file: null, preview: null }
  const joinRule = () => form.querySelector('input[name=join-rule]:checked')?.value

  function showAvatar () {
    const r = model.rooms.get(state.roomId)
    const node = avatarNode({ id: state.roomId, name: $('settings-name').value || model.roomName(state.roomId), url: r?.avatar, preview: state.preview, size: 72, testid: 'settings-avatar-image' })
    $('settings-avatar').replaceChildren(node)
  }

  function setFile (file) {
    if (state.preview) URL.revokeObjectURL(state.preview)
    state.file = file
    state.preview = file ? URL.createObjectURL(file) : null
    showAvatar()
  }

  async function open (roomId) {
    const r = model.rooms.get(roomId)
    if (!r) return
    state.roomId = roomId
    state.published = null
    $('settings-name').value = r.name ?? ''
    $('settings-topic').value = r.topic ?? ''
    for (const radio of form.querySelectorAll('input[name=join-rule]')) radio.checked = radio.value === (r.joinRule === 'public' ? 'public' : 'invite')
    $('settings-published').checked = false
    $('settings-status').textContent = ''
    $('settings-error').hidden = true
    const may = (type) => model.canSend(roomId, type)
    $('settings-name').disabled = !may('m.room.name')
    $('settings-topic').disabled = !may('m.room.topic')
    fileInput.disabled = !may('m.room.avatar')
    for (const radio of form.querySelectorAll('input[name=join-rule]')) radio.disabled = !may('m.room.join_rules')
    $('settings-published').disabled = !may('m.room.canonical_alias')
    const readonly = ['m.room.name', 'm.room.topic', 'm.room.avatar', 'm.room.join_rules'].every((t) => !may(t))
    $('settings-readonly').hidden = !readonly
    form.querySelector('[data-testid=settings-save]').disabled = readonly
    setFile(null)
    dialog.showModal()
    try {
      const res = await client.directoryVisibility(roomId)
      if (state.roomId !== roomId) return
      state.published = res.visibility === 'public'
      $('settings-published').checked = state.published
    } catch {} // not listed, as far as we know
  }

  const on = (target, type, fn) => target.addEventListener(type, fn, { signal })
  on(fileInput, 'change', () => {
    if (fileInput.files?.[0]) setFile(fileInput.files[0])
    fileInput.value = ''
  })
  on(dialog, 'close', () => { setFile(null); state.roomId = null })
  on(form, 'submit', (event) => {
    event.preventDefault()
    const roomId = state.roomId
    const r = model.rooms.get(roomId)
    if (!r) return
    act(form, 'settings-error', async () => {
      $('settings-status').textContent = 'Saving…'
      const name = $('settings-name').value.trim()
      const topic = $('settings-topic').value.trim()
      if (name !== (r.name ?? '')) await client.setState(roomId, 'm.room.name', '', { name })
      if (topic !== (r.topic ?? '')) await client.setState(roomId, 'm.room.topic', '', { topic })
      const rule = joinRule()
      if (rule && rule !== (r.joinRule === 'public' ? 'public' : 'invite')) await client.setState(roomId, 'm.room.join_rules', '', { join_rule: rule })
      if (state.file) {
        const url = await client.upload(state.file)
        await client.setState(roomId, 'm.room.avatar', '', { url })
        r.avatar = url
        setFile(null)
      }
      const published = $('settings-published').checked
      if (published !== Boolean(state.published)) {
        await client.setDirectoryVisibility(roomId, published ? 'public' : 'private')
        state.published = published
      }
      $('settings-status').textContent = 'Saved'
    })
  })
  on($('settings-forget'), 'click', (event) => {
    const button = event.currentTarget
    if (button.dataset.confirm !== 'true') {
      button.dataset.confirm = 'true'
      button.textContent = 'Leave and forget: sure?'
      return
    }
    const roomId = state.roomId
    act(dialog, 'settings-error', async () => {
      if (model.rooms.get(roomId)?.members.get(model.userId)?.membership === 'join') await client.leave(roomId)
      await client.forget(roomId)
      dialog.close()
      onForgotten(roomId)
    }).finally(() => {
      button.dataset.confirm = 'false'
      button.textContent = 'Leave and forget this room'
    })
  })

  return { open }
}
