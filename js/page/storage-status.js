/**
 * The browser storage this homeserver lives in: ask once for persistent
 * storage (so the browser does not evict the database under pressure) and
 * show how much is used. Everything here is best effort: a browser without
 * the Storage API still runs Hearth, it just cannot promise to keep the data.
 */

/** How often the usage line is refreshed while the page is open. */
const REFRESH_MS = 30000

/**
 * @param {HTMLElement} element where the usage line goes
 * @returns {() => void} refresh now (e.g. after a write)
 */
export function showStorageStatus (element) {
  const storage = navigator.storage
  if (!storage?.estimate) {
    element.textContent = 'Storage: this browser does not say how much is used'
    return () => {}
  }
  let persisted = null
  const askPersistence = (async () => {
    try {
      persisted = (await storage.persisted?.()) || (await storage.persist?.()) || false
    } catch {
      persisted = false
    }
  })()
  const refresh = async () => {
    await askPersistence
    try {
      const { usage = 0, quota = 0 } = await storage.estimate()
      const kept = persisted ? 'kept by the browser' : 'may be cleared by the browser when space runs low'
      element.textContent = `Storage: ${formatBytes(usage)} used of ${formatBytes(quota)}, ${kept}`
      element.dataset.persisted = String(persisted)
      element.dataset.usage = String(usage)
    } catch (err) {
      element.textContent = `Storage: unknown (${err.message})`
    }
  }
  refresh()
  setInterval(refresh, REFRESH_MS)
  return refresh
}

export function formatBytes (n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
