/**
 * The page: connects to the service worker, shows the server's start-up, then
 * the account (create one with a display name and a password, or log in) and
 * the client (app.js) talking to the server on this origin. Plain DOM; every
 * element tests use has a data-testid.
 */
import { connectWorker } from './worker.js'
import { createClient, MatrixError } from './matrix.js'
import { createPortFetch } from './port-fetch.js'
import { createApp } from './app.js'
import { localpartFrom } from './model.js'
import { createNetworkView } from './network.js'
import { hostDirectLinks } from './direct.js'
import { showStorageStatus } from './storage-status.js'
import { wireBackups } from './backup.js'

const SESSION_KEY = 'hearth.session'
/** Attempts at a free user name before giving up (each adds a random suffix). */
const NAME_ATTEMPTS = 5

const $ = (id) => document.getElementById(id)

const PHASE_TEXT = {
  loading: 'Loading…',
  registering: 'Installing the service worker…',
  idle: 'Waiting for the server…',
  downloading: 'Downloading the server…',
  compiling: 'Compiling the server…',
  starting: 'Starting the server…',
  ready: 'Ready',
  failed: 'The server failed to start'
}

/**
 * Page state. client: talks to the server over the worker's client port
 * (port-fetch.js) once the worker is connected; session: {accessToken, userId,
 * deviceId, displayName?} or null; app: the running client of that session
 * (app.js) or null; status: the worker's last start-up status (serverName, and
 * p2p once the worker reports it).
 */
const state = {
  client: null,
  port: null,
  session: null,
  app: null,
  status: null,
  serverReady: null,
  network: null,
  direct: null
}

function showStatus (status) {
  state.port?.workerStatus(status)
  state.direct?.workerStatus(status)
  const phase = status.phase
  const el = $('startup-phase')
  el.dataset.phase = phase
  document.body.dataset.server = phase
  let text = PHASE_TEXT[phase] ?? phase
  if (phase === 'downloading' && status.loaded !== undefined) {
    const mb = (n) => (n / 1e6).toFixed(1)
    text += status.total ? ` ${mb(status.loaded)} of ${mb(status.total)} MB` : ` ${mb(status.loaded)} MB`
  }
  if (phase === 'ready' && status.serverName) text += ` — server ${status.serverName}`
  if (status.waitingForPrevious && phase !== 'ready' && phase !== 'failed') text += ' (waiting for the previous server to stop)'
  el.textContent = text
  const progress = $('startup-progress')
  progress.hidden = phase === 'ready' || phase === 'failed'
  if (phase === 'downloading' && status.total) {
    progress.max = status.total
    progress.value = status.loaded
  } else {
    progress.removeAttribute('value') // indeterminate
  }
  const error = $('startup-error')
  error.hidden = phase !== 'failed'
  $('startup-retry').hidden = phase !== 'failed' || status.retryable === false
  if (phase === 'failed') {
    error.textContent = `${status.error ?? 'unknown error'}` + (status.failedPhase ? ` (while ${status.failedPhase})` : '') +
      (status.retryable === false ? '\nClose every Hearth tab and open the site again to restart the server.' : '')
  }
  if (phase === 'ready') {
    state.status = status
    state.serverReady?.resolve(status)
    state.app?.renderNetwork()
  }
  state.network?.render(phase === 'ready' ? status.p2p : undefined)
}

function showError (target, err) {
  const el = $(target)
  if (err === null) {
    el.hidden = true
    el.textContent = ''
    return
  }
  el.hidden = false
  el.textContent = err instanceof Error ? err.message : String(err)
  if (!(err instanceof MatrixError)) console.error(err)
}

/** Runs an action from a form: disables its buttons meanwhile, shows its error. */
async function act (form, errorTarget, fn) {
  const buttons = form.querySelectorAll('button')
  buttons.forEach((b) => { b.disabled = true })
  showError(errorTarget, null)
  try {
    await fn()
  } catch (err) {
    showError(errorTarget, err)
  } finally {
    buttons.forEach((b) => { b.disabled = false })
  }
}

// ---- session ----

function saveSession (login, displayName) {
  state.session = { accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id, displayName }
  localStorage.setItem(SESSION_KEY, JSON.stringify(state.session))
  state.client.accessToken = state.session.accessToken
}

function forgetSession () {
  state.app?.stop()
  state.app = null
  state.session = null
  state.client.accessToken = null
  localStorage.removeItem(SESSION_KEY)
}

function setAuthMode (mode) {
  const auth = $('auth')
  auth.dataset.mode = mode
  $('auth-displayname').required = mode === 'register'
  $('auth-username').required = mode === 'login'
  $('auth-password').autocomplete = mode === 'register' ? 'new-password' : 'current-password'
  $('auth-switch').textContent = mode === 'register' ? 'I already have an account here' : 'Create a new account instead'
  showError('auth-error', null)
}

/**
 * The worker's network view (peer identity, peers online), when the page has
 * one, sits above the account form before log-in and in the sidebar after.
 */
function placeNetworkView (inApp) {
  const view = $('network')
  if (!view) return
  if (inApp) $('identity').append(view)
  else $('auth').before(view)
}

function showAuth (mode = 'register') {
  placeNetworkView(false)
  $('auth').hidden = false
  $('app').hidden = true
  $('logout').hidden = true
  $('profile-open').hidden = true
  $('whoami').textContent = ''
  setAuthMode(mode)
  $(mode === 'register' ? 'auth-displayname' : 'auth-username').focus()
}

function enterApp () {
  placeNetworkView(true)
  $('auth').hidden = true
  $('app').hidden = false
  $('logout').hidden = false
  $('profile-open').hidden = false
  const showName = () => {
    const { userId, displayName } = state.session
    $('whoami').textContent = displayName ? `${displayName} (${userId})` : userId
    $('whoami').title = userId
  }
  showName()
  if (!state.session.displayName) {
    state.client.getProfile(state.session.userId).then((profile) => {
      if (!state.session || !profile.displayname) return
      state.session.displayName = profile.displayname
      showName()
    }).catch(() => {}) // no profiles on this server yet: the user ID is shown
  }
  state.app = createApp({
    client: state.client,
    session: state.session,
    storage: localStorage,
    showError,
    act,
    network: () => state.status && { serverName: state.status.serverName, peers: state.status.p2p?.peers },
    onProfileChanged: showName,
    onSessionEnded: (message) => {
      forgetSession()
      showAuth('login')
      showError('auth-error', new Error(message))
    }
  })
  state.app.start()
}

/**
 * Creates an account from a display name: the user name is derived from it
 * (a random suffix when taken, or when nothing of the name is usable), then
 * the display name is set on the profile.
 */
async function registerWithDisplayName (displayName, password) {
  const base = localpartFrom(displayName)
  let login
  for (let attempt = 0; !login; attempt++) {
    const suffix = Math.random().toString(36).slice(2, 6)
    const username = !base ? `user-${suffix}` : attempt === 0 ? base : `${base}-${suffix}`
    try {
      login = await state.client.register(username, password)
    } catch (err) {
      const taken = err instanceof MatrixError && (err.errcode === 'M_USER_IN_USE' || err.errcode === 'M_EXCLUSIVE')
      if (!taken || attempt + 1 >= NAME_ATTEMPTS) throw err
    }
  }
  saveSession(login, displayName)
  try {
    state.client.accessToken = login.access_token
    await state.client.setDisplayName(login.user_id, displayName)
  } catch (err) {
    // A server without profiles yet still gives a working account.
    if (!(err instanceof MatrixError && err.errcode === 'M_UNRECOGNIZED')) console.warn('hearth: cannot set the display name:', err)
  }
}

// ---- wiring ----

function wire (worker) {
  $('startup-retry').addEventListener('click', () => worker.boot())

  $('auth-switch').addEventListener('click', () => {
    setAuthMode($('auth').dataset.mode === 'register' ? 'login' : 'register')
  })

  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const mode = $('auth').dataset.mode
    const password = $('auth-password').value
    act($('auth-form'), 'auth-error', async () => {
      if (mode === 'register') {
        const displayName = $('auth-displayname').value.trim()
        if (!displayName) throw new Error('Pick a display name: it is what others see.')
        await registerWithDisplayName(displayName, password)
      } else {
        const login = await state.client.login($('auth-username').value.trim(), password)
        saveSession(login, undefined)
      }
      $('auth-form').reset()
      enterApp()
    })
  })

  $('logout').addEventListener('click', () => {
    act($('logout').parentElement, 'app-error', async () => {
      try {
        await state.client.logout()
      } finally {
        forgetSession()
        showAuth('login')
      }
    })
  })
}

/**
 * whoami, retried while the answer is not the server's: during a worker
 * update (seen in Firefox) the reloaded page's first requests may reach the
 * static site (404 without an errcode) or a worker handing over (503).
 */
async function whoamiWhenServed () {
  for (let attempt = 1; ; attempt++) {
    try {
      return await state.client.whoami()
    } catch (err) {
      // Go always names an errcode; the static site's 404 and a network error do not.
      const servedByGo = err instanceof MatrixError && err.body?.errcode !== undefined && err.status < 500
      if (servedByGo || attempt === 10) throw err
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
    }
  }
}

async function main () {
  state.serverReady = Promise.withResolvers
    ? Promise.withResolvers()
    : (() => { const d = {}; d.promise = new Promise((resolve) => { d.resolve = resolve }); return d })()
  state.network = createNetworkView($('network'))
  showStatus({ phase: 'registering' })
  let worker
  try {
    worker = await connectWorker({ onStatus: showStatus })
  } catch (err) {
    showStatus({ phase: 'failed', error: err.message })
    $('startup-retry').hidden = true
    return
  }
  state.port = createPortFetch({ untilTakeover: worker.untilTakeover })
  state.client = createClient({ fetch: state.port.fetch })
  wire(worker)
  wireBackups({ accessToken: () => state.session?.accessToken ?? null, act })
  state.direct = hostDirectLinks({ sendPort: worker.hostDirect })
  worker.boot()
  await state.serverReady.promise
  showStorageStatus($('storage-status'))

  const saved = localStorage.getItem(SESSION_KEY)
  if (saved) {
    try {
      state.session = JSON.parse(saved)
      state.client.accessToken = state.session.accessToken
      const me = await whoamiWhenServed()
      state.session.userId = me.user_id
      enterApp()
      return
    } catch (err) {
      showAuth('login')
      if (err instanceof MatrixError && err.errcode === 'M_UNKNOWN_TOKEN') {
        forgetSession()
        showError('auth-error', new Error('Your saved session is no longer valid; log in again.'))
      } else {
        // Not the token's fault: keep the session for the next load.
        showError('auth-error', new Error(`Could not check your saved session (${err.message}); reload to try again.`))
      }
      return
    }
  }
  showAuth()
}

main()
