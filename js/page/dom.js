/**
 * Two small DOM helpers the views share: h() builds elements, reconcile()
 * brings a container's children to a wanted list while touching only what
 * differs (so a render of a long timeline moves or adds a few nodes instead of
 * rebuilding all of them, and a button being clicked is not replaced).
 */

/**
 * h('button', {type: 'button', dataset: {testid: 'x'}, onclick}, 'text', child)
 * Attributes: `dataset` and `className` are set as properties, `on*` functions
 * become listeners, `hidden`/`disabled` booleans, everything else setAttribute.
 */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k === 'className') el.className = v
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c)
  return el
}

/**
 * Makes parent's children exactly `wanted` (in order), moving only nodes out of place.
 * A child rebuilt while it held keyboard focus hands the focus to the same
 * control (same data-testid and data-key) in its replacement (same data-key):
 * a redraw must not drop a keyboard user's place on the page.
 */
export function reconcile (parent, wanted) {
  const focus = focusWithin(parent)
  placeChildren(parent, wanted)
  if (focus && !focus.active.isConnected) refocus(focus, wanted)
}

function placeChildren (parent, wanted) {
  let cursor = parent.firstChild
  for (const node of wanted) {
    if (node === cursor) {
      cursor = cursor.nextSibling
      continue
    }
    parent.insertBefore(node, cursor)
  }
  while (cursor) {
    const next = cursor.nextSibling
    cursor.remove()
    cursor = next
  }
}

/** The focused element inside parent (not parent itself), with the child of parent holding it. */
function focusWithin (parent) {
  const active = document.activeElement
  if (!active || active === parent || !parent.contains(active)) return null
  let child = active
  while (child.parentNode !== parent) child = child.parentNode
  return { active, child }
}

function refocus ({ active, child }, wanted) {
  const key = child.dataset?.key
  const replacement = key !== undefined && wanted.find((node) => node.dataset?.key === key)
  if (!replacement) return
  let target = replacement
  if (active !== child) {
    const { testid, key: controlKey } = active.dataset ?? {}
    if (!testid) return
    target = replacement.querySelector(`[data-testid="${CSS.escape(testid)}"]${controlKey ? `[data-key="${CSS.escape(controlKey)}"]` : ''}`)
  }
  target?.focus({ preventScroll: true })
}

/**
 * A keyed cache of rendered nodes: get(key, signature, build) returns the
 * cached node while its signature is unchanged, else builds a new one.
 * prune(keys) forgets the others.
 */
export function createNodeCache () {
  const cache = new Map()
  return {
    get (key, signature, build) {
      const hit = cache.get(key)
      if (hit && hit.signature === signature) return hit.node
      const node = build()
      cache.set(key, { signature, node })
      return node
    },
    prune (keep) {
      for (const key of cache.keys()) if (!keep.has(key)) cache.delete(key)
    },
    clear: () => cache.clear()
  }
}
