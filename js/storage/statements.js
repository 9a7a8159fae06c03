/**
 * Prepared statements over sql.js, bound and read through SQLite's C API so
 * that every value keeps its SQLite type exactly (see codec.js for the wire).
 *
 * sql.js's own Statement.bind is not exact: it binds -0 and integral floats
 * as INTEGER, other numbers outside int32 as REAL and a BigInt as TEXT. So we
 * bind with the exported C functions on the statement's pointer:
 *   INTEGER in int32        sqlite3_bind_int
 *   INTEGER outside int32   its decimal text, with that parameter rewritten as
 *                           CAST(? AS INTEGER) (sql.js exports no bind_int64;
 *                           see sqlparams.js); each rewrite is a cached variant
 *   REAL                    sqlite3_bind_double
 *   TEXT, BLOB              sqlite3_bind_text/blob with SQLITE_TRANSIENT; a
 *                           zero-length blob gets a non-NULL pointer so it
 *                           stays a blob and does not become NULL
 * Reading: INTEGER through sqlite3_column_double when that is exact (|v| < 2^53),
 * otherwise through its decimal text; TEXT and BLOB as raw bytes.
 *
 * Bindings are not cleared between runs (sqlite3_clear_bindings): SQLite
 * marks a statement expired when it clears the bindings of one whose plan
 * looked at a bound value (its expmask), and the next step compiles it
 * again. Since SQLite 3.54 a `col = ?` term of a join or of an ORDER BY
 * query is such a value (the plan depends on whether it is 0 or 1; the
 * native driver, modernc.org/sqlite, stopped clearing for the same reason).
 * That happened to 2.4 of the ~10 statements of a built-in client's send
 * and /sync, every time, 50–360 µs each in wasm (a send's room read took
 * 248 µs instead of 80). Instead a run binds every parameter it has and binds
 * NULL to those only the last run bound, which leaves the same values; after
 * a run that bound large values they are cleared, so that a cached statement
 * does not hold them.
 *
 * Lifetimes: a compiled statement lives as long as a handle refers to it, and
 * then in a small idle cache (so one-shot queries do not re-prepare); every
 * compiled statement is counted in `openStatements`, which stays bounded by
 * (live handles × variants) + IDLE_LIMIT.
 */

import { castParameters } from './sqlparams.js'
import { TAG_NULL, TAG_INTEGER, TAG_REAL, TAG_TEXT, TAG_BLOB, ResultWriter } from './codec.js'
import { sqliteError, StorageError } from './errors.js'

const SQLITE_ROW = 100
const SQLITE_DONE = 101
const SQLITE_TRANSIENT = -1
const COLUMN_INTEGER = 1
const COLUMN_FLOAT = 2
const COLUMN_TEXT = 3
const COLUMN_BLOB = 4
const INT32_MIN = -(2n ** 31n)
const INT32_MAX = 2n ** 31n - 1n
/** Unreferenced compiled statements kept for reuse. */
const IDLE_LIMIT = 64
/** Bound bytes past which a run clears its bindings afterwards (see the top). */
const RELEASE_BOUND_BYTES = 64 * 1024
/** The database's size in bytes (Statements.databaseBytes). */
const SIZE_SQL = 'SELECT page_count * page_size FROM pragma_page_count, pragma_page_size'
/** Rewritten variants kept per statement (one per set of wide parameters seen). */
const VARIANT_LIMIT = 8
const utf8 = new TextEncoder()
const NULL_PARAM = Object.freeze({ tag: TAG_NULL })

/** One SQL text and its compiled forms. */
class Entry {
  constructor (sql) {
    this.sql = sql
    /** handles referring to this entry */
    this.refs = 0
    /** variant key ('' = unmodified SQL) → sql.js Statement */
    this.variants = new Map()
    /** true, false, or undefined until asked: does running it write? */
    this.readonly = undefined
    /**
     * Its result columns' names, UTF-8 encoded for ResultWriter.header: read
     * from SQLite and encoded once, not on every run (a send runs 7
     * statements, a /sync 3). columnNamesAt is where SQLite keeps the first
     * of them: a schema change recompiles the statement, and its names (SELECT *
     * after ALTER TABLE) are then kept elsewhere. null until the first run.
     */
    this.columnNames = null
    this.columnNamesAt = 0
    /** variant key → the parameter indexes its last run bound (bindings stay between runs) */
    this.bound = new Map()
  }
}

/**
 * The statements of one sql.js Database. Not exported from the package:
 * storage.js owns it.
 */
export class Statements {
  /**
   * @param {object} SQL the initialised sql.js module
   * @param {object} db a sql.js Database
   */
  constructor (SQL, db) {
    this.SQL = SQL
    this.db = db
    this.dbPtr = db.db
    this.pointerKey = findStatementPointerKey(SQL, db)
    this.bindParameterIndex = SQL.cwrap('sqlite3_bind_parameter_index', 'number', ['number', 'string'])
    /** sql → Entry, for every entry with refs > 0 or in the idle cache */
    this.entries = new Map()
    /** sql → Entry with refs === 0, oldest first */
    this.idle = new Map()
    /** handle id → Entry */
    this.handles = new Map()
    this.nextHandle = 1
    /** runs during which SQLite compiled the statement again (seen by its result column names moving) */
    this.recompiled = 0
    this.open = 0
    this.lastRowid = this.db.prepare('SELECT last_insert_rowid()')
    this.open++
    this.sizeQuery = this.db.prepare(SIZE_SQL)
    this.open++
  }

  /** Number of compiled sql.js statements alive now. */
  get openStatements () { return this.open }

  /** Returns a new handle for sql; compiles it now so that syntax errors surface here. */
  acquire (sql) {
    const entry = this.entryFor(sql)
    this.compiled(entry, '', null)
    entry.refs++
    this.idle.delete(sql)
    const id = this.nextHandle++
    this.handles.set(id, entry)
    return id
  }

  /** Forgets a handle; its statement goes to the idle cache. Unknown handles are ignored. */
  release (id) {
    const entry = this.handles.get(id)
    if (entry === undefined) return
    this.handles.delete(id)
    if (--entry.refs === 0) this.makeIdle(entry)
  }

  /** The entry behind a handle. */
  byHandle (id) {
    const entry = this.handles.get(id)
    if (entry === undefined) throw new StorageError(`unknown statement handle ${id}`)
    return entry
  }

  /** Runs sql once through the idle cache. */
  withEntry (sql, fn) {
    const entry = this.entryFor(sql)
    entry.refs++
    this.idle.delete(sql)
    try {
      return fn(entry)
    } finally {
      if (--entry.refs === 0) this.makeIdle(entry)
    }
  }

  /** Does running entry change the database? Asked of SQLite once, through EXPLAIN. */
  isReadonly (entry) {
    if (entry.readonly === undefined) {
      // A write program opens a write transaction: OP_Transaction with P2 != 0.
      // This is what sqlite3_stmt_readonly reports, which sql.js does not export.
      const res = this.db.exec('EXPLAIN ' + entry.sql)
      const rows = res.length ? res[0].values : []
      entry.readonly = !rows.some(r => r[1] === 'Transaction' && r[3] !== 0)
    }
    return entry.readonly
  }

  /**
   * Binds params, steps to the end, and returns the encoded result.
   * @param {Entry} entry
   * @param {ReturnType<import('./codec.js').decodeParams>} params
   * @param {{flags: number, wantsChanges: boolean}} how
   * @returns {Uint8Array}
   */
  run (entry, params, how) {
    const base = this.compiled(entry, '', null)
    const indexes = this.resolveIndexes(entry, base, params)
    const wide = []
    for (let i = 0; i < params.length; i++) {
      const p = params[i]
      if (p.tag === TAG_INTEGER && (p.value < INT32_MIN || p.value > INT32_MAX)) wide.push(indexes[i])
    }
    const key = wide.sort((a, b) => a - b).join(',')
    const st = key === '' ? base : this.compiled(entry, key, new Set(wide))
    const ptr = st[this.pointerKey]
    const SQL = this.SQL
    SQL._sqlite3_reset(ptr)
    let boundBytes = 0
    try {
      for (const index of entry.bound.get(key) ?? []) {
        if (!indexes.includes(index)) this.bind(ptr, index, NULL_PARAM)
      }
      entry.bound.set(key, indexes)
      for (let i = 0; i < params.length; i++) {
        this.bind(ptr, indexes[i], params[i])
        boundBytes += params[i].value?.length ?? 0
      }
      // Names come from the unrewritten statement: SQLite names an unaliased
      // column after its expression, and CAST(…) must not show.
      const basePtr = base[this.pointerKey]
      const columns = SQL._sqlite3_column_count(basePtr)
      const namesAt = columns === 0 ? 0 : SQL._sqlite3_column_name(basePtr, 0)
      if (entry.columnNames?.length !== columns || entry.columnNamesAt !== namesAt) {
        entry.columnNames = this.columnNames(basePtr, columns)
        entry.columnNamesAt = namesAt
      }
      const steppedNamesAt = ptr === basePtr || columns === 0 ? namesAt : SQL._sqlite3_column_name(ptr, 0)
      const out = new ResultWriter()
      out.header(how.flags, 0, 0, entry.columnNames)
      for (;;) {
        const rc = SQL._sqlite3_step(ptr)
        if (rc === SQLITE_DONE) break
        if (rc !== SQLITE_ROW) throw sqliteError(this.errorMessage())
        for (let c = 0; c < columns; c++) this.readCell(st, ptr, c, out)
        out.endRow()
      }
      if (how.wantsChanges) out.setChanges(SQL._sqlite3_changes(this.dbPtr), this.lastInsertRowid())
      // SQLite compiles a statement again into new memory, names included.
      if (columns !== 0 && SQL._sqlite3_column_name(ptr, 0) !== steppedNamesAt) this.recompiled++
      return out.finish()
    } finally {
      SQL._sqlite3_reset(ptr)
      if (boundBytes > RELEASE_BOUND_BYTES) {
        SQL._sqlite3_clear_bindings(ptr)
        entry.bound.delete(key)
      }
    }
  }

  /** The names of a compiled statement's result columns, each UTF-8 encoded. */
  columnNames (ptr, columns) {
    const names = new Array(columns)
    for (let c = 0; c < columns; c++) names[c] = utf8.encode(this.SQL.UTF8ToString(this.SQL._sqlite3_column_name(ptr, c)))
    return names
  }

  /** Frees every compiled statement (before the database closes or is replaced). */
  freeAll () {
    for (const entry of this.entries.values()) this.freeVariants(entry)
    for (const entry of this.handles.values()) this.freeVariants(entry)
    this.idle.clear()
    this.entries.clear()
    if (this.lastRowid) {
      this.lastRowid.free()
      this.lastRowid = null
      this.open--
    }
    if (this.sizeQuery) {
      this.sizeQuery.free()
      this.sizeQuery = null
      this.open--
    }
  }

  /**
   * Moves every handle to a new Database (after a reload): their statements
   * are compiled again when next used.
   */
  rebind (db) {
    this.freeAll()
    this.db = db
    this.dbPtr = db.db
    for (const entry of this.handles.values()) this.entries.set(entry.sql, entry)
    this.lastRowid = db.prepare('SELECT last_insert_rowid()')
    this.open++
    this.sizeQuery = db.prepare(SIZE_SQL)
    this.open++
  }

  // --- internals ---

  entryFor (sql) {
    let entry = this.entries.get(sql)
    if (entry === undefined) {
      entry = new Entry(sql)
      this.entries.set(sql, entry)
    }
    return entry
  }

  makeIdle (entry) {
    this.idle.delete(entry.sql)
    this.idle.set(entry.sql, entry)
    while (this.idle.size > IDLE_LIMIT) {
      const [oldest] = this.idle.values()
      this.idle.delete(oldest.sql)
      this.entries.delete(oldest.sql)
      this.freeVariants(oldest)
    }
  }

  freeVariants (entry) {
    for (const st of entry.variants.values()) {
      st.free()
      this.open--
    }
    entry.variants.clear()
  }

  compiled (entry, key, wide) {
    let st = entry.variants.get(key)
    if (st !== undefined) return st
    if (key !== '' && entry.variants.size > VARIANT_LIMIT) {
      // Keep the base statement; drop the rewritten ones.
      for (const [k, v] of entry.variants) {
        if (k === '') continue
        v.free()
        this.open--
        entry.variants.delete(k)
      }
    }
    const sql = key === '' ? entry.sql : castParameters(entry.sql, wide)
    try {
      st = this.db.prepare(sql)
    } catch (err) {
      throw sqliteError(err)
    }
    this.open++
    entry.variants.set(key, st)
    return st
  }

  resolveIndexes (entry, base, params) {
    const ptr = base[this.pointerKey]
    const indexes = new Array(params.length)
    for (let i = 0; i < params.length; i++) {
      const name = params[i].name
      if (name === '') {
        indexes[i] = i + 1
        continue
      }
      let index = 0
      for (const prefix of [':', '@', '$']) {
        index = this.bindParameterIndex(ptr, prefix + name)
        if (index !== 0) break
      }
      if (index === 0) throw sqliteError(`no parameter named ${name} in: ${entry.sql}`)
      indexes[i] = index
    }
    return indexes
  }

  bind (ptr, index, p) {
    const SQL = this.SQL
    let rc
    switch (p.tag) {
      case TAG_NULL:
        rc = SQL._sqlite3_bind_blob(ptr, index, 0, 0, 0)
        break
      case TAG_INTEGER:
        rc = p.value >= INT32_MIN && p.value <= INT32_MAX
          ? SQL._sqlite3_bind_int(ptr, index, Number(p.value))
          : this.bindBytes(SQL._sqlite3_bind_text, ptr, index, utf8.encode(p.value.toString()))
        break
      case TAG_REAL:
        rc = SQL._sqlite3_bind_double(ptr, index, p.value)
        break
      case TAG_TEXT:
        rc = this.bindBytes(SQL._sqlite3_bind_text, ptr, index, p.value)
        break
      case TAG_BLOB:
        rc = this.bindBytes(SQL._sqlite3_bind_blob, ptr, index, p.value)
        break
      default:
        throw new StorageError(`unknown value tag ${p.tag}`)
    }
    if (rc !== 0) throw sqliteError(`binding parameter ${index}: ${this.errorMessage()}`)
  }

  bindBytes (bindFn, ptr, index, bytes) {
    const SQL = this.SQL
    const mem = SQL._malloc(Math.max(bytes.length, 1))
    try {
      SQL.writeArrayToMemory(bytes, mem)
      return bindFn(ptr, index, mem, bytes.length, SQLITE_TRANSIENT)
    } finally {
      SQL._free(mem)
    }
  }

  readCell (st, ptr, c, out) {
    const SQL = this.SQL
    switch (SQL._sqlite3_column_type(ptr, c)) {
      case COLUMN_INTEGER: {
        const d = SQL._sqlite3_column_double(ptr, c)
        out.cell(TAG_INTEGER, Number.isSafeInteger(d) ? BigInt(d) : BigInt(SQL.UTF8ToString(SQL._sqlite3_column_text(ptr, c))))
        return
      }
      case COLUMN_FLOAT:
        out.cell(TAG_REAL, SQL._sqlite3_column_double(ptr, c))
        return
      case COLUMN_TEXT:
        out.cell(TAG_TEXT, st.getBlob(c))
        return
      case COLUMN_BLOB:
        out.cell(TAG_BLOB, st.getBlob(c))
        return
      default:
        out.cell(TAG_NULL, null)
    }
  }

  /**
   * The database's size in bytes. Asked after most commits (snapshot-policy.js),
   * so prepared once: compiling it each time (Database.exec) was 0.07–0.14 ms
   * of every message send in V8's profile of bench/wasm-send.js.
   */
  databaseBytes () {
    const st = this.sizeQuery
    st.step()
    const [v] = st.get()
    st.reset()
    return v
  }

  lastInsertRowid () {
    const st = this.lastRowid
    st.step()
    const [v] = st.get(null, { useBigInt: true })
    st.reset()
    return v
  }

  errorMessage () {
    return this.SQL.UTF8ToString(this.SQL._sqlite3_errmsg(this.dbPtr))
  }
}

/**
 * Finds which property of a sql.js Statement holds its sqlite3_stmt pointer.
 * The build is minified, so the name is not stable across sql.js versions;
 * we find it by behaviour (the one number free() sets to 0) and check it with
 * sqlite3_sql, failing loudly if a new sql.js changed the shape.
 */
function findStatementPointerKey (SQL, db) {
  const probe = db.prepare('SELECT 1')
  const before = Object.keys(probe).filter(k => typeof probe[k] === 'number' && probe[k] !== 0)
  probe.free()
  const key = before.find(k => probe[k] === 0)
  const check = db.prepare('SELECT 2')
  try {
    if (key === undefined || SQL.UTF8ToString(SQL._sqlite3_sql(check[key])) !== 'SELECT 2') {
      throw new StorageError('this sql.js build hides its statement pointer; js/storage/statements.js needs updating')
    }
  } finally {
    check.free()
  }
  return key
}
