/**
 * The message composer: a textarea where Enter sends and Shift+Enter starts a
 * new line (Markdown lists and code blocks need them), growing with its text,
 * and what the next message does: a new message, a reply to one, or an edit
 * of one of ours, shown above it with a way out (Cancel, Escape).
 */
import { h } from './dom.js'

/**
 * @param {{onSubmit: (text: string, context: {kind: 'reply'|'edit', eventId: string}|null) => void,
 *   onInput: () => void, onBlur: () => void, onEditLast: () => void, signal: AbortSignal}} options
 *   onEditLast: ArrowUp in an empty composer (edit our last message, as in other chat apps);
 *   signal: removes the listeners (log-out)
 */
export function createComposer ({ onSubmit, onInput, onBlur, onEditLast, signal }) {
  const $ = (id) => document.getElementById(id)
  const form = $('composer')
  const input = $('composer-input')
  const bar = $('composer-context')
  let context = null

  function fit () {
    input.style.height = 'auto'
    input.style.height = `${input.scrollHeight + 2}px`
  }

  /** Shows what the next send does; text fills the composer (an edit starts from the message). */
  function set (next, { label, text } = {}) {
    context = next
    bar.hidden = !next
    if (next) {
      bar.dataset.kind = next.kind
      bar.replaceChildren(h('span', { className: 'what', dataset: { testid: 'composer-context-text' } }, label),
        h('button', { type: 'button', className: 'small', dataset: { testid: 'composer-cancel' }, onclick: () => cancel() }, 'Cancel'))
    }
    if (text !== undefined) input.value = text
    fit()
    input.focus()
  }

  function cancel () {
    const wasEdit = context?.kind === 'edit'
    context = null
    bar.hidden = true
    if (wasEdit) input.value = ''
    fit()
  }

  const on = (target, type, fn) => target.addEventListener(type, fn, { signal })
  on(form, 'submit', (event) => {
    event.preventDefault()
    const text = input.value
    if (!text.trim()) return
    const sent = context
    input.value = ''
    context = null
    bar.hidden = true
    fit()
    onSubmit(text, sent)
  })
  on(input, 'input', () => { fit(); onInput() })
  on(input, 'blur', onBlur)
  on(input, 'keydown', (event) => {
    if (event.key === 'Escape' && context) {
      event.preventDefault()
      cancel()
      return
    }
    if (event.key === 'ArrowUp' && !input.value && !context) {
      event.preventDefault()
      onEditLast()
      return
    }
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return
    event.preventDefault()
    form.requestSubmit()
  })

  return {
    replyTo: (eventId, label) => set({ kind: 'reply', eventId }, { label }),
    edit: (eventId, label, text) => set({ kind: 'edit', eventId }, { label, text }),
    /** Leaves a reply or edit (another room was opened). */
    reset: () => { if (context) cancel() },
    get text () { return input.value }
  }
}
