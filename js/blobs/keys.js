/**
 * Blob keys, as go/media/keys.go makes them (keep the two in step):
 *
 *   local/<media ID>                 an upload to this server
 *   remote/<server name>/<media ID>  another server's file, cached
 *   event/<stream position>          an old event's JSON (go/room cold_events.go)
 *
 * Checked so that a key is always a safe relative file path.
 */

const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/
const SERVER_NAME = /^[A-Za-z0-9.:[\]-]{1,255}$/
const POSITION = /^[1-9][0-9]{0,18}$/

/** "" or one of the prefixes above: what keys(prefix) lists by. */
export function validPrefix (prefix) {
  return prefix === '' || prefix === 'local/' || prefix === 'remote/' || prefix === 'event/'
}

/** @param {unknown} key @returns {boolean} */
export function validKey (key) {
  if (typeof key !== 'string') return false
  const parts = key.split('/')
  if (parts[0] === 'local') return parts.length === 2 && MEDIA_ID.test(parts[1])
  if (parts[0] === 'event') return parts.length === 2 && POSITION.test(parts[1])
  return parts[0] === 'remote' && parts.length === 3 &&
    SERVER_NAME.test(parts[1]) && parts[1] !== '.' && parts[1] !== '..' && MEDIA_ID.test(parts[2])
}
