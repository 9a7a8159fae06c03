/**
 * For property tests: a small seeded generator (mulberry32), so a failure
 * names the seed that replays it, and `property`, which runs a check a
 * bounded number of times. HEARTH_FUZZ_SEED=n replays a run;
 * HEARTH_FUZZ_RUNS=n runs longer by hand.
 */

export const FUZZ_SEED = Number(process.env.HEARTH_FUZZ_SEED ?? 0x4ea27)
export const FUZZ_RUNS = Number(process.env.HEARTH_FUZZ_RUNS ?? 300)

/** @param {number} seed */
export function seededRandom (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = n => Math.floor(next() * n)
  const pick = list => list[int(list.length)]
  const bytes = n => Uint8Array.from({ length: n }, () => int(256))
  /** well-formed text: any code point but the lone surrogates UTF-8 cannot carry */
  const text = (maxLength = 12) => {
    let s = ''
    for (let n = int(maxLength); n > 0; n--) {
      s += String.fromCodePoint(pick([() => int(0x80), () => int(0x800), () => 0xe000 + int(0x2000), () => 0x10000 + int(0x100000)])())
    }
    return s
  }
  /** bytes with 1–4 of them replaced at random */
  const mutate = original => {
    const out = original.slice()
    if (out.length === 0) return out
    for (let n = 1 + int(4); n > 0; n--) out[int(out.length)] = int(256)
    return out
  }
  /** a JSON-able value of random shape, at most 3 levels deep; object keys are mostly from `keys` */
  const json = (keys = [], depth = 0) => {
    const leaves = [() => null, () => int(2) === 1, () => int(2 ** 40) - 2 ** 39, () => text(), () => '12D3KooW' + text(40)]
    if (depth > 2) return pick(leaves)()
    return pick([
      ...leaves,
      () => Array.from({ length: int(4) }, () => json(keys, depth + 1)),
      () => Object.fromEntries(Array.from({ length: int(4) }, () => [pick([...keys, '__proto__', text()]), json(keys, depth + 1)]))
    ])()
  }
  return { next, int, pick, bytes, text, mutate, json }
}

/**
 * Runs check(rand, i) FUZZ_RUNS times with one generator; a failure's
 * message names the seed and the run.
 * @param {(rand: ReturnType<typeof seededRandom>, i: number) => void|Promise<void>} check
 */
export async function property (check) {
  const rand = seededRandom(FUZZ_SEED)
  for (let i = 0; i < FUZZ_RUNS; i++) {
    try {
      await check(rand, i)
    } catch (err) {
      err.message = `${err.message}\n(HEARTH_FUZZ_SEED=${FUZZ_SEED}, run ${i})`
      throw err
    }
  }
}
