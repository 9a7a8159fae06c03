/**
 * The worker's static routes (InstallEvent.addRoutes, the Service Worker
 * Static Routing API; Chromium 123 and later). A request this worker does not
 * answer goes straight to the network, with no fetch event. Without them every
 * request of a page the worker controls waits for a turn on the worker's
 * thread, and while the worker starts that thread is busy for hundreds of
 * milliseconds (sql.js, hearth.wasm, Go's start-up): after a worker restart
 * the page's own page.js waited 224 ms there before the worker let it go to
 * the network.
 *
 * Navigations keep their fetch event: it is what starts the worker, and so the
 * server, while the page loads. Browsers without the API (Firefox, Safari)
 * give every request its fetch event, as before.
 */

/**
 * The rules, first match wins.
 * @param {string[]} answeredPrefixes path prefixes the worker answers itself
 * @returns {object[]} addRoutes' rules
 */
export function staticRoutes (answeredPrefixes) {
  return [
    { condition: { or: answeredPrefixes.map((prefix) => ({ urlPattern: { pathname: `${prefix}*` } })) }, source: 'fetch-event' },
    { condition: { requestMode: 'navigate' }, source: 'fetch-event' },
    { condition: { urlPattern: { pathname: '*' } }, source: 'network' }
  ]
}

/**
 * Adds the routes during an install event, where the API exists. A browser
 * that refuses them keeps fetch events for everything: slower, not wrong.
 * @returns {Promise<boolean>} whether the routes were added
 */
export async function addStaticRoutes (installEvent, routes) {
  if (typeof installEvent.addRoutes !== 'function') return false
  try {
    await installEvent.addRoutes(routes)
    return true
  } catch (err) {
    console.warn('hearth: static routes refused; every request goes through the worker:', err)
    return false
  }
}
