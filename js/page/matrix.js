/**
 * A minimal Matrix client-server API client over fetch(): just what the page
 * needs. Paths are on the page's own origin, where the service worker answers.
 * Spec: https://spec.matrix.org/v1.11/client-server-api/
 */

/** The server answered with a Matrix error (or not with JSON at all). */
export class MatrixError extends Error {
  constructor (status, body) {
    const errcode = body?.errcode ?? 'M_UNKNOWN'
    super(body?.error ? `${body.error} (${errcode})` : `HTTP ${status} (${errcode})`)
    this.name = 'MatrixError'
    this.status = status
    this.errcode = errcode
    this.body = body
  }
}

const V3 = '/_matrix/client/v3'
const V1 = '/_matrix/client/v1'
/** Hearth's extension: where a sent event is on its way to the room's other servers (README "Offline delivery"). */
const DELIVERY = '/_matrix/client/unstable/org.hearth.delivery'
const enc = encodeURIComponent

/**
 * Where our server serves an mxc:// URI (null if src is not one): a
 * thumbnail when a size is given, else the file itself. The unauthenticated
 * v3 paths, since an <img> sends no access token.
 * Spec: https://spec.matrix.org/v1.11/client-server-api/#get_matrixmediav3thumbnailservernamemediaid
 */
export function mediaUrl (src, thumbnail) {
  const m = /^mxc:\/\/([^/?#]+)\/([A-Za-z0-9_-]+)$/.exec(src ?? '')
  if (!m) return null
  const path = `/_matrix/media/v3/${thumbnail ? 'thumbnail' : 'download'}/${enc(m[1])}/${enc(m[2])}`
  if (!thumbnail) return path
  return `${path}?width=${Math.round(thumbnail.width)}&height=${Math.round(thumbnail.height)}&method=${thumbnail.method ?? 'scale'}`
}

/**
 * @param {{baseUrl?: string, fetch?: typeof fetch, accessToken?: string}} [options]
 */
export function createClient ({ baseUrl = '', fetch: doFetch = (...a) => globalThis.fetch(...a), accessToken = null } = {}) {
  const state = { accessToken }

  async function request (method, path, { body, query, signal, auth = true, prefix = V3 } = {}) {
    const url = new URL(baseUrl + prefix + path, globalThis.location?.href)
    for (const [k, v] of Object.entries(query ?? {})) {
      if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, item)
      else if (v !== undefined && v !== null) url.searchParams.set(k, v)
    }
    const headers = {}
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (auth && state.accessToken) headers.Authorization = `Bearer ${state.accessToken}`
    const res = await doFetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
    const text = await res.text()
    let json = null
    try { json = text ? JSON.parse(text) : {} } catch { json = { error: text.slice(0, 200) } }
    if (!res.ok) throw new MatrixError(res.status, json)
    return json
  }

  return {
    get accessToken () { return state.accessToken },
    set accessToken (token) { state.accessToken = token },

    /** Registers with User-Interactive Auth, completing the m.login.dummy stage. */
    async register (username, password) {
      const body = { username, password, initial_device_display_name: 'Hearth web' }
      let session
      try {
        return await request('POST', '/register', { body, auth: false })
      } catch (err) {
        if (!(err instanceof MatrixError) || err.status !== 401 || !err.body?.session) throw err
        session = err.body.session
        const flows = err.body.flows ?? []
        if (flows.length > 0 && !flows.some((f) => (f.stages ?? []).every((s) => s === 'm.login.dummy'))) {
          throw new MatrixError(401, { errcode: 'M_FORBIDDEN', error: `registration needs stages this client cannot do: ${JSON.stringify(flows)}` })
        }
      }
      return request('POST', '/register', { body: { ...body, auth: { type: 'm.login.dummy', session } }, auth: false })
    },

    login (username, password) {
      return request('POST', '/login', {
        auth: false,
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: username }, password, initial_device_display_name: 'Hearth web' }
      })
    },
    whoami: () => request('GET', '/account/whoami'),
    logout: () => request('POST', '/logout', { body: {} }),
    /** @param {{name?: string, topic?: string, isPublic?: boolean, invite?: string[]}} options */
    createRoom: ({ name, topic, isPublic = false, invite } = {}) => request('POST', '/createRoom', {
      body: {
        ...(name ? { name } : {}),
        ...(topic ? { topic } : {}),
        ...(invite?.length ? { invite } : {}),
        preset: isPublic ? 'public_chat' : 'private_chat',
        visibility: isPublic ? 'public' : 'private'
      }
    }),
    joinedRooms: () => request('GET', '/joined_rooms'),
    sendEvent: (roomId, type, txnId, content) =>
      request('PUT', `/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`, { body: content }),
    redact: (roomId, eventId, txnId) =>
      request('PUT', `/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`, { body: {} }),
    /**
     * Uploads a file to the content repository; resolves to its mxc:// URI.
     * XMLHttpRequest, not fetch: only it reports upload progress.
     * @param {Blob & {name?: string}} file
     * @param {{onProgress?: (loaded: number, total: number) => void, signal?: AbortSignal}} [options]
     */
    upload: (file, { onProgress, signal } = {}) => new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      const url = new URL(`${baseUrl}/_matrix/media/v3/upload`, globalThis.location?.href)
      if (file.name) url.searchParams.set('filename', file.name)
      xhr.open('POST', url)
      xhr.setRequestHeader('Authorization', `Bearer ${state.accessToken}`)
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream')
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size)
      xhr.onload = () => {
        let json = null
        try { json = JSON.parse(xhr.responseText) } catch { json = { error: xhr.responseText.slice(0, 200) } }
        if (xhr.status >= 200 && xhr.status < 300 && json?.content_uri) resolve(json.content_uri)
        else reject(new MatrixError(xhr.status, json))
      }
      xhr.onerror = () => reject(new TypeError('the upload failed: network error'))
      signal?.addEventListener('abort', () => xhr.abort(), { once: true })
      xhr.onabort = () => reject(signal?.reason ?? new DOMException('aborted', 'AbortError'))
      xhr.send(file)
    }),
    sync: ({ since, timeout, filter, signal }) =>
      request('GET', '/sync', { query: { since, timeout, filter: filter && JSON.stringify(filter) }, signal }),
    messages: (roomId, { from, dir = 'b', limit = 30 }) =>
      request('GET', `/rooms/${enc(roomId)}/messages`, { query: { from, dir, limit } }),
    members: (roomId) => request('GET', `/rooms/${enc(roomId)}/members`),

    /** Joins by room ID or alias; servers: where to join through (federation). */
    join: (roomIdOrAlias, servers = []) => {
      const query = new URLSearchParams()
      for (const s of servers) query.append('server_name', s)
      const qs = query.toString() ? `?${query}` : ''
      return request('POST', `/join/${enc(roomIdOrAlias)}${qs}`, { body: {} })
    },
    leave: (roomId) => request('POST', `/rooms/${enc(roomId)}/leave`, { body: {} }),
    invite: (roomId, userId) => request('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: userId } }),
    /** server: another server's directory (federation); omitted = this server's. */
    publicRooms: ({ server, limit = 100, signal } = {}) =>
      request('GET', '/publicRooms', { query: { server, limit }, signal }),

    setDisplayName: (userId, displayname) =>
      request('PUT', `/profile/${enc(userId)}/displayname`, { body: { displayname } }),
    setAvatarUrl: (userId, avatarUrl) =>
      request('PUT', `/profile/${enc(userId)}/avatar_url`, { body: { avatar_url: avatarUrl } }),
    /** A state event; stateKey '' for room-wide state. */
    setState: (roomId, type, stateKey, content) =>
      request('PUT', `/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { body: content }),
    getState: (roomId, type, stateKey = '') =>
      request('GET', `/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`),
    forget: (roomId) => request('POST', `/rooms/${enc(roomId)}/forget`, { body: {} }),
    directoryVisibility: (roomId) => request('GET', `/directory/list/room/${enc(roomId)}`),
    setDirectoryVisibility: (roomId, visibility) =>
      request('PUT', `/directory/list/room/${enc(roomId)}`, { body: { visibility } }),
    event: (roomId, eventId) => request('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`),
    /** Children of an event (relType: m.thread, m.annotation, …), newest first: {chunk, next_batch?}. */
    relations: (roomId, eventId, relType, { from, limit = 50, dir = 'b' } = {}) =>
      request('GET', `/rooms/${enc(roomId)}/relations/${enc(eventId)}${relType ? `/${enc(relType)}` : ''}`, { prefix: V1, query: { from, limit, dir } }),
    /** The room's thread roots, latest activity first, each with its m.thread summary: {chunk, next_batch?}. */
    threads: (roomId, { from, limit = 50 } = {}) =>
      request('GET', `/rooms/${enc(roomId)}/threads`, { prefix: V1, query: { from, limit } }),
    getProfile: (userId) => request('GET', `/profile/${enc(userId)}`),
    typing: (roomId, userId, typing, timeout = 5000) =>
      request('PUT', `/rooms/${enc(roomId)}/typing/${enc(userId)}`, { body: typing ? { typing, timeout } : { typing } }),
    receipt: (roomId, eventId) =>
      request('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { body: {} }),
    /** {events: {eventId: {state: 'delivered'|'mailbox'|'queued', waiting?: {server: 'mailbox'|'queued'}}}} */
    delivery: (roomId, eventIds) =>
      request('GET', `/rooms/${enc(roomId)}/events`, { prefix: DELIVERY, query: { event_id: eventIds } })
  }
}
