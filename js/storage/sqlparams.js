/**
 * Finds the bind parameters in one SQL statement, numbered the way SQLite
 * numbers them, so that a parameter can be rewritten as CAST(param AS INTEGER).
 *
 * Why: sql.js exports no sqlite3_bind_int64, and its own bind turns a BigInt
 * into TEXT and a non-int32 number into REAL. The only exact way to bind an
 * int64 outside the int32 range is to bind its decimal text and let SQLite
 * convert it: CAST(text AS INTEGER) is exact over the whole int64 range.
 *
 * SQLite's rules (https://sqlite.org/c3ref/bind_blob.html, tokenize.c):
 *   ?      the largest index so far + 1
 *   ?NNN   index NNN
 *   :AAA @AAA $AAA   an index of its own, given at first sight (largest + 1)
 * Strings '…', identifiers "…" `…` […] and comments -- and / * * / hide
 * everything inside them.
 */

/**
 * @param {string} sql one statement
 * @returns {Array<{start: number, end: number, index: number}>} every parameter occurrence
 */
export function findParameters (sql) {
  const found = []
  const named = new Map()
  let largest = 0
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(sql, i, c)
    } else if (c === '[') {
      const close = sql.indexOf(']', i + 1)
      i = close < 0 ? n : close + 1
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i + 2)
      i = nl < 0 ? n : nl + 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2)
      i = close < 0 ? n : close + 2
    } else if (c === '?') {
      let j = i + 1
      while (j < n && isDigit(sql[j])) j++
      let index
      if (j > i + 1) {
        index = Number(sql.slice(i + 1, j))
        const prior = named.get(sql.slice(i, j))
        if (prior === undefined) named.set(sql.slice(i, j), index)
      } else {
        index = largest + 1
      }
      largest = Math.max(largest, index)
      found.push({ start: i, end: j, index })
      i = j
    } else if ((c === ':' || c === '@' || c === '$') && i + 1 < n && isNameChar(sql[i + 1])) {
      let j = i + 1
      while (j < n && (isNameChar(sql[j]) || (c === '$' && sql[j] === ':' && sql[j + 1] === ':'))) {
        j += sql[j] === ':' ? 2 : 1
      }
      const name = sql.slice(i, j)
      let index = named.get(name)
      if (index === undefined) {
        index = ++largest
        named.set(name, index)
      }
      found.push({ start: i, end: j, index })
      i = j
    } else if (isNameChar(c)) {
      // A word: skip it whole so that "x:y"-like text inside names is not a parameter.
      let j = i + 1
      while (j < n && (isNameChar(sql[j]) || sql[j] === '$')) j++
      i = j
    } else {
      i++
    }
  }
  return found
}

/**
 * Rewrites the parameters whose index is in `indexes` as CAST(… AS INTEGER).
 * @param {string} sql
 * @param {Set<number>} indexes
 */
export function castParameters (sql, indexes) {
  let out = ''
  let last = 0
  for (const p of findParameters(sql)) {
    if (!indexes.has(p.index)) continue
    out += sql.slice(last, p.start) + 'CAST(' + sql.slice(p.start, p.end) + ' AS INTEGER)'
    last = p.end
  }
  return out + sql.slice(last)
}

function skipQuoted (sql, i, quote) {
  let j = i + 1
  for (;;) {
    const close = sql.indexOf(quote, j)
    if (close < 0) return sql.length
    if (sql[close + 1] === quote) { j = close + 2; continue } // doubled quote escapes itself
    return close + 1
  }
}

function isDigit (c) { return c >= '0' && c <= '9' }

function isNameChar (c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c === '_' || c > '\x7f'
}
