/**
 * sql.js for js/storage, loaded once (sql.js itself keeps its first
 * initSqlJs for the realm), with its database files' writes watched: a
 * snapshot then copies only the chunks of the database file written since
 * the last one (storage.js) instead of the whole image. db.export() held the
 * thread ~1–3 ms per MB: 127 ms at 30,000 events, more at 100,000 (issue 18).
 *
 * How: SQLite in sql.js keeps its database file in Emscripten's in-memory
 * file system and writes it with lseek then write (the build has no pwrite),
 * which reach JS as the wasm imports fd_seek and fd_write. Emscripten's
 * instantiateWasm hook, which sql.js keeps, hands over the import object
 * before the module is instantiated; the calls that open, seek, write,
 * truncate and close files are wrapped there to note which chunks of a
 * watched file were written. Reading a chunk back calls the same fd_seek and
 * fd_read on SQLite's own descriptor: SQLite seeks before every read and
 * write, so moving the position between its calls is harmless.
 *
 * The imports' names are minified, so they come from a table for the pinned
 * sql.js, and the whole mechanism is checked on a probe database before the
 * first snapshot relies on it (checkWriteWatching). If anything disagrees
 * (another sql.js version, or sql.js initialised elsewhere before this
 * module), watching is off and snapshots export the whole image as before:
 * slower, never wrong. The wrappers' own bookkeeping never throws into
 * SQLite: a failure there only turns watching off (FileCalls.fail). A test fails when it is
 * off (sqljs.test.js), so an upgrade that breaks it is seen.
 */

import initSqlJs from 'sql.js'
import { fetchImmutable } from '../assets/fetch.js'

/** sql.js 1.16.0's minified names for the imports wrapped (sql-wasm.js, `wasmImports`). */
const IMPORTS = Object.freeze({ openat: 'x', close: 'e', seek: 'E', read: 't', write: 'q', truncate: 'J' })
/** Their parameter counts, a cheap first check that the table fits the build. */
const ARITY = Object.freeze({ openat: 4, close: 1, seek: 4, read: 4, write: 4, truncate: 2 })
const SEEK_SET = 0
const SEEK_END = 2
/** Header bytes SQLite's backup (db.export()) rewrites: the change counter and version-valid-for. */
const COUNTER_BYTES = Object.freeze([[24, 28], [92, 100]])

let loading = null
/** the wrapped file system calls, or null while writes are not watched */
let io = null
/** why writes are not watched, or null when they are */
let notWatchedBecause = 'sql.js is not loaded yet'
/** selfCheck has run (checkWriteWatching) */
let checked = false
let loadedSQL = null

/**
 * sql.js's module, loaded on the first call with these options (later
 * options are ignored, as initSqlJs ignores them).
 * @param {object} [options] initSqlJs's: locateFile, wasmBinary; and immutable:
 *   locateFile's URL names one build's bytes (sw.js's sql-wasm.wasm?v=<hash>)
 */
export function loadSqlJs (options = {}) {
  loading ??= load(options)
  return loading
}

/**
 * new SQL.Database(image) without a copy of image: the image becomes the
 * database's file, and the caller must not use it again. sql.js writes the
 * bytes into a new file, and Emscripten's in-memory file system keeps
 * `bytes.slice(0, length)` of a first write to an empty file; this image's
 * own slice hands itself over instead. At 30,000 events that copy held a
 * second 57 MB at every start-up. A build that writes otherwise copies, as
 * before.
 * @param {object} SQL sql.js's module
 * @param {Uint8Array|null} image
 */
export function openDatabaseOwning (SQL, image) {
  if (image == null || image.length === 0) return new SQL.Database(image ?? undefined)
  const whole = image.length
  image.slice = function (start, end) {
    return start === 0 && end === whole ? this : Uint8Array.prototype.slice.call(this, start, end)
  }
  try {
    return new SQL.Database(image)
  } finally {
    delete image.slice
  }
}

/**
 * Whether database files' writes are watched, and why not. The first call
 * checks the mechanism on a probe database (selfCheck), which costs tens of
 * ms of first-call compilation in a fresh wasm instance: storage.js calls it
 * at its first snapshot, not during start-up. Watches made before a failed
 * check must not be used.
 * @returns {{watching: boolean, reason: string|null}}
 */
export function checkWriteWatching () {
  if (!checked && io !== null) {
    checked = true
    const problem = selfCheck(loadedSQL, io)
    if (problem !== null) {
      io = null
      notWatchedBecause = problem
      console.warn(`js/storage: snapshots copy the whole database: ${problem}`)
    }
  }
  return { watching: io !== null, reason: notWatchedBecause }
}

/**
 * A watch on db's file: which chunks of chunkBytes were written since the
 * last take(), the file's length and its bytes. Null when writes are not
 * watched or db's file was not seen opening.
 * @param {{filename: string}} db a sql.js Database
 * @param {number} chunkBytes
 * @returns {FileWatch|null}
 */
export function watchDatabaseFile (db, chunkBytes) {
  if (io === null) return null
  return io.watch(db.filename, chunkBytes)
}

async function load (options) {
  /** what the hook made: undefined if it never ran (sql.js was initialised elsewhere first) */
  let hooked
  let failHook
  const hookFailed = new Promise((resolve, reject) => { failHook = reject })
  const SQL = await Promise.race([hookFailed, initSqlJs({
    ...options,
    instantiateWasm (imports, receive) {
      // initSqlJs resolves only through receive: a failure here must end the wait itself.
      instantiate(options, imports).then(({ instance, files }) => {
        hooked = files
        receive(instance)
      }, failHook)
      return {}
    }
  })])
  if (hooked === undefined) {
    notWatchedBecause = 'sql.js was initialised before js/storage could watch its files'
  } else if (hooked !== null) { // null: the import table did not fit, and instantiate said so
    hooked.malloc = n => SQL._malloc(n)
    hooked.free = p => SQL._free(p)
    loadedSQL = SQL
    io = hooked
    notWatchedBecause = null
  }
  return SQL
}

/** Instantiates sql.js's wasm with the file calls wrapped when the import table fits. */
async function instantiate (options, imports) {
  const env = imports.a
  const fits = env !== null && typeof env === 'object' &&
    Object.entries(IMPORTS).every(([call, key]) => typeof env[key] === 'function' && env[key].length === ARITY[call])
  const files = fits ? new FileCalls(env) : null
  if (files === null) notWatchedBecause = 'the wasm imports do not match sql.js 1.16.0'
  const { instance } = await instantiateSource(options, imports)
  files?.attach(Object.values(instance.exports).find(v => v instanceof WebAssembly.Memory))
  return { instance, files }
}

/**
 * What initSqlJs would have loaded: wasmBinary, else locateFile's URL (from the
 * HTTP cache without revalidating when options.immutable: the URL names the
 * bytes, js/assets/fetch.js), else (Node) the file beside sql.js.
 */
async function instantiateSource (options, imports) {
  if (options.wasmBinary) return WebAssembly.instantiate(options.wasmBinary, imports)
  if (typeof options.locateFile === 'function') {
    const url = options.locateFile('sql-wasm.wasm', '')
    const get = () => (options.immutable ? fetchImmutable : fetch)(url, { credentials: 'same-origin' })
    if (typeof WebAssembly.instantiateStreaming === 'function') {
      try {
        return await WebAssembly.instantiateStreaming(get(), imports)
      } catch {} // a server without application/wasm: compile from the bytes
    }
    const response = await get()
    if (!response.ok) throw new Error(`sql.js's wasm: ${url} answered ${response.status}`)
    return WebAssembly.instantiate(await response.arrayBuffer(), imports)
  }
  // Node with sql.js's default location (bundles always pass locateFile).
  const { createRequire } = await import(/* webpackIgnore: true */ 'node:module')
  const { readFile } = await import(/* webpackIgnore: true */ 'node:fs/promises')
  const path = createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm')
  return WebAssembly.instantiate(await readFile(path), imports)
}

/** sql.js's file system calls, wrapped in place in its import object. */
class FileCalls {
  constructor (env) {
    /** the original calls, by role */
    this.call = Object.fromEntries(Object.entries(IMPORTS).map(([role, key]) => [role, env[key]]))
    this.memory = null
    this.dataView = null
    /** open descriptors' paths */
    this.paths = new Map()
    /** watched descriptors */
    this.watches = new Map()
    /** scratch memory in the wasm heap: an iovec and a result, then a read buffer */
    this.scratch = 0
    this.scratchBytes = 0
    /** what went wrong in the bookkeeping, or null */
    this.broken = null
    const { openat, close, seek, write, truncate } = this.call
    env[IMPORTS.openat] = (dirfd, pathPtr, flags, varargs) => {
      const fd = openat(dirfd, pathPtr, flags, varargs)
      if (fd >= 0) {
        try {
          this.paths.set(fd, this.cString(pathPtr))
        } catch (err) {
          this.fail(err)
        }
      }
      return fd
    }
    env[IMPORTS.close] = fd => {
      this.paths.delete(fd)
      const watch = this.watches.get(fd)
      if (watch !== undefined) {
        watch.closed = true
        this.watches.delete(fd)
      }
      return close(fd)
    }
    // Called before every read and write SQLite makes: no closure per call.
    env[IMPORTS.seek] = (fd, offset, whence, newOffsetPtr) => {
      const rc = seek(fd, offset, whence, newOffsetPtr)
      const watch = this.watches.get(fd)
      if (watch !== undefined && rc === 0) {
        try {
          watch.position = Number(this.view().getBigInt64(newOffsetPtr, true))
        } catch (err) {
          this.fail(err)
        }
      }
      return rc
    }
    env[IMPORTS.write] = (fd, iov, iovcnt, writtenPtr) => {
      const watch = this.watches.get(fd)
      if (watch === undefined) return write(fd, iov, iovcnt, writtenPtr)
      try {
        if (watch.frozen) watch.beforeWrite(this.iovBytes(iov, iovcnt))
      } catch (err) {
        this.fail(err)
      }
      const rc = write(fd, iov, iovcnt, writtenPtr)
      try {
        if (rc === 0) watch.wrote(this.view().getUint32(writtenPtr, true))
      } catch (err) {
        this.fail(err)
      }
      return rc
    }
    env[IMPORTS.truncate] = (fd, length) => {
      const watch = this.watches.get(fd)
      try {
        if (watch?.frozen) watch.copyAllPending()
      } catch (err) {
        this.fail(err)
      }
      const rc = truncate(fd, length)
      if (watch !== undefined) watch.everything = true // rare (VACUUM): copy it all next time
      return rc
    }
  }

  /**
   * A failure in the wrappers' bookkeeping must not reach SQLite: it marks
   * every watch broken instead (their snapshots then fail, and storage.js
   * stops watching).
   */
  fail (err) {
    this.broken = err
    for (const watch of this.watches.values()) watch.broken = err
  }

  attach (memory) {
    if (!(memory instanceof WebAssembly.Memory)) throw new Error('sql.js exports no memory')
    this.memory = memory
  }

  /** A DataView of the wasm memory (a new one after the memory grew). */
  view () {
    if (this.dataView === null || this.dataView.buffer !== this.memory.buffer) this.dataView = new DataView(this.memory.buffer)
    return this.dataView
  }

  /** The bytes an fd_write of these iovecs writes. */
  iovBytes (iov, iovcnt) {
    const view = this.view()
    let bytes = 0
    for (let i = 0; i < iovcnt; i++) bytes += view.getUint32(iov + 8 * i + 4, true)
    return bytes
  }

  cString (ptr) {
    const bytes = new Uint8Array(this.memory.buffer)
    let end = ptr
    while (end < bytes.length && bytes[end] !== 0) end++
    return new TextDecoder().decode(bytes.subarray(ptr, end))
  }

  watch (filename, chunkBytes) {
    if (this.broken !== null) return null
    for (const [fd, path] of this.paths) {
      if (path === filename || path === `/${filename}`) {
        const watch = new FileWatch(this, fd, chunkBytes)
        this.watches.set(fd, watch)
        return watch
      }
    }
    return null
  }

  /** The file's length, from a seek to its end. */
  length (fd) {
    this.reserve(0)
    this.check(this.call.seek(fd, 0n, SEEK_END, this.scratch), 'seek')
    return Number(this.view().getBigInt64(this.scratch, true))
  }

  /** Moves the descriptor back to where SQLite left it. */
  seekTo (fd, position) {
    this.reserve(0)
    this.check(this.call.seek(fd, BigInt(position), SEEK_SET, this.scratch + 8), 'seek')
  }

  /** A copy of length bytes of the file at offset. */
  read (fd, offset, length) {
    this.reserve(length)
    const iov = this.scratch
    const result = this.scratch + 8
    const buffer = this.scratch + 16
    this.check(this.call.seek(fd, BigInt(offset), SEEK_SET, result), 'seek')
    let got = 0
    while (got < length) {
      const view = this.view()
      view.setUint32(iov, buffer + got, true)
      view.setUint32(iov + 4, length - got, true)
      this.check(this.call.read(fd, iov, 1, result), 'read')
      const n = this.view().getUint32(result, true)
      if (n === 0) throw new Error(`the database file ended at ${offset + got} bytes, before ${offset + length}`)
      got += n
    }
    return new Uint8Array(this.memory.buffer, buffer, length).slice()
  }

  reserve (bytes) {
    if (this.scratchBytes >= bytes + 16) return
    if (this.scratch !== 0) this.free(this.scratch)
    this.scratchBytes = bytes + 16
    this.scratch = this.malloc(this.scratchBytes)
    if (this.scratch === 0) {
      this.scratchBytes = 0
      throw new Error(`could not allocate ${bytes} bytes to read the database file`)
    }
  }

  check (rc, what) {
    if (rc !== 0) throw new Error(`${what} on the database file failed (errno ${rc})`)
  }
}

/**
 * One watched database file: the chunks written since the last take().
 * Reads and the length come from the file itself, so a snapshot is the
 * database as of the moment they are taken (storage.js calls them only at a
 * quiescent point, between transactions).
 */
export class FileWatch {
  constructor (calls, fd, chunkBytes) {
    this.calls = calls
    this.fd = fd
    this.chunkBytes = chunkBytes
    /** the descriptor's position, as SQLite's last seek left it */
    this.position = 0
    /** indexes of chunks written since the last take() */
    this.dirty = new Set()
    /** the file changed in a way chunks do not describe (a truncate) */
    this.everything = false
    this.closed = false
    /** an error in the wrappers' bookkeeping (FileCalls.fail): what this watch says is unreliable */
    this.broken = null
    /** chunks kept as they were for a snapshot copying them, or null (freeze) */
    this.frozen = null
  }

  wrote (bytes) {
    if (bytes > 0) {
      const last = Math.floor((this.position + bytes - 1) / this.chunkBytes)
      for (let i = Math.floor(this.position / this.chunkBytes); i <= last; i++) this.dirty.add(i)
    }
    this.position += bytes
  }

  /** The chunks written since the last take (everything: all may have), and starts counting again. */
  take () {
    const taken = { chunks: this.dirty, everything: this.everything }
    this.dirty = new Set()
    this.everything = false
    return taken
  }

  length () {
    this.checkOpen()
    return this.calls.length(this.fd)
  }

  /** Chunk i's bytes (the last chunk may be short), copied from the file of length bytes. */
  readChunk (i, length) {
    this.checkOpen()
    const start = i * this.chunkBytes
    return this.calls.read(this.fd, start, Math.min(this.chunkBytes, length - start))
  }

  /**
   * Keeps chunks (of a file of length bytes) as they are now, for a snapshot
   * that copies them over several turns (copyPending): until thaw(), a write
   * to one not yet copied copies it first. So the copies are the file as of
   * this call however many writes come between, and no single step holds the
   * thread for more than a chunk, or the chunks one write touches.
   * @returns {{length: number, pending: Set<number>, copies: Map<number, Uint8Array>}}
   */
  freeze (indexes, length) {
    this.checkOpen()
    this.calls.reserve(this.chunkBytes) // no allocation inside SQLite's writes
    this.frozen = { length, pending: new Set(indexes), copies: new Map() }
    return this.frozen
  }

  /** Copies chunk i if it is frozen and not copied yet. */
  copyPending (i) {
    const frozen = this.frozen
    if (frozen === null || !frozen.pending.has(i)) return
    frozen.copies.set(i, this.readChunk(i, frozen.length))
    frozen.pending.delete(i)
  }

  copyAllPending () {
    for (const i of [...this.frozen.pending]) this.copyPending(i)
  }

  /** Before SQLite writes bytes at its position: copies the frozen chunks it would change. */
  beforeWrite (bytes) {
    const { pending } = this.frozen
    if (pending.size === 0 || bytes === 0) return
    const last = Math.floor((this.position + bytes - 1) / this.chunkBytes)
    let moved = false
    for (let i = Math.floor(this.position / this.chunkBytes); i <= last; i++) {
      if (pending.has(i)) {
        this.copyPending(i)
        moved = true
      }
    }
    if (moved) this.calls.seekTo(this.fd, this.position) // the write goes where SQLite's seek put it
  }

  /** Ends freeze(); returns the copies. */
  thaw () {
    const frozen = this.frozen
    this.frozen = null
    return frozen
  }

  /** Whether what this watch says can be relied on. */
  usable () {
    return !this.closed && this.broken === null
  }

  checkOpen () {
    if (this.closed) throw new Error('the watched database file is closed')
    if (this.broken !== null) throw new Error(`watching the database file's writes failed: ${this.broken?.message ?? this.broken}`)
  }
}

/**
 * Checks the wrapped calls on a probe database: after a write, every chunk
 * not reported written must read as before, a reported one must exist, and
 * the file must be the database export() gives (apart from the counters a
 * backup rewrites). Returns null, or what went wrong.
 */
function selfCheck (SQL, files) {
  const chunkBytes = 4096
  let db
  try {
    db = new SQL.Database()
    const watch = files.watch(db.filename, chunkBytes)
    if (watch === null) return 'the database file was not seen opening'
    db.run('PRAGMA journal_mode=MEMORY')
    db.run('CREATE TABLE probe (k INTEGER PRIMARY KEY, v BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) INSERT INTO probe (v) SELECT zeroblob(1000) FROM n')
    const read = () => {
      const length = watch.length()
      const chunks = []
      for (let i = 0; i * chunkBytes < length; i++) chunks.push(watch.readChunk(i, length))
      return chunks
    }
    if (watch.take().chunks.size === 0) return 'writes to the database file were not seen'
    const before = read()
    db.run("UPDATE probe SET v = randomblob(1000) WHERE k = 30")
    const written = watch.take()
    const after = read()
    if (written.everything || written.chunks.size === 0 || written.chunks.size === after.length) return 'the chunks written were not told apart'
    for (let i = 0; i < after.length; i++) {
      if (!written.chunks.has(i) && !sameBytes(before[i], after[i])) return `chunk ${i} changed unseen`
    }
    const image = new Uint8Array(after.reduce((n, c) => n + c.length, 0))
    after.forEach((c, i) => image.set(c, i * chunkBytes))
    const exported = db.export()
    if (exported.length !== image.length) return `the file has ${image.length} bytes, export() ${exported.length}`
    for (let i = 0; i < image.length; i++) {
      if (image[i] !== exported[i] && !COUNTER_BYTES.some(([from, to]) => i >= from && i < to)) return `the file differs from export() at byte ${i}`
    }
    return null
  } catch (err) {
    return `checking watched writes failed: ${err?.message ?? err}`
  } finally {
    db?.close()
  }
}

function sameBytes (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
