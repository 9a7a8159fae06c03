/**
 * The named steps of a browser test, and the failure report that names the
 * step. Every e2e test walks through steps a person would take; when one
 * fails, the report must say which, and show what the pages and workers said.
 */
import { join } from 'node:path'
import { ARTIFACTS, diagnose } from './browser.js'
import { timelineText } from './ui.js'

/**
 * @param {import('node:test').TestContext} t
 * @param {Array<{log: (line: string) => void}>} browsers openBrowser results: each
 *   gets a "[test] step: …" line in its log, so logs read along the steps
 */
export function steps (t, browsers) {
  let current = 'start'
  return {
    /** Runs one step; its duration goes to the test's diagnostics. */
    async run (name, fn) {
      current = name
      for (const browser of browsers) browser.log(`[test] step: ${name}`)
      const began = Date.now()
      const result = await fn()
      t.diagnostic(`${Date.now() - began} ms: ${name}`)
      return result
    },

    /**
     * Rewrites err's message into the failure report: the step, then per view
     * its timeline, what the page and its worker say and every console line;
     * saves a screenshot of each open page.
     * @param {Error} err
     * @param {Array<{label: string, env: {logs: string[]}, page?: object, screenshot: string}>} views
     * @returns {Promise<Error>} err
     */
    async explain (err, views) {
      t.diagnostic(`failed at step: ${current}`)
      const parts = [`step "${current}": ${err.message}`]
      for (const { label, env, page, screenshot } of views) {
        const open = page != null && !page.isClosed()
        if (open) await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true }).catch(() => {})
        const timeline = open ? await timelineText(page).catch(() => []) : []
        parts.push(`--- ${label}: timeline ---\n${JSON.stringify(timeline)}`,
          `--- ${label}: page and worker status ---\n${await diagnose(page)}`,
          `--- ${label}: console (page, worker) ---\n${env.logs.join('\n')}`)
      }
      err.message = parts.join('\n')
      return err
    }
  }
}
