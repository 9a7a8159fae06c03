/**
 * The backup passphrase for the command line: HEARTH_BACKUP_PASSPHRASE for
 * scripts, else asked on the terminal without echo (twice for an export,
 * so a typo does not lock the person out of their own backup).
 */
import { createInterface } from 'node:readline'

/**
 * @param {object} options
 * @param {boolean} [options.confirm] ask twice and require both to match
 * @param {NodeJS.ProcessEnv} [options.env]
 * @param {NodeJS.ReadStream} [options.input]
 * @param {NodeJS.WriteStream} [options.output] where the prompt goes (stderr: stdout may be piped)
 * @returns {Promise<string>}
 */
export async function readPassphrase ({ confirm = false, env = process.env, input = process.stdin, output = process.stderr } = {}) {
  if (env.HEARTH_BACKUP_PASSPHRASE) return env.HEARTH_BACKUP_PASSPHRASE
  if (!input.isTTY) throw new Error('no terminal to ask for the backup passphrase: set HEARTH_BACKUP_PASSPHRASE')
  const first = await ask('Backup passphrase: ', input, output)
  if (first.length === 0) throw new Error('the passphrase is empty')
  if (confirm && first !== await ask('Again: ', input, output)) throw new Error('the two passphrases differ')
  return first
}

function ask (prompt, input, output) {
  const rl = createInterface({ input, output, terminal: true })
  // Echo the prompt only, never what is typed.
  rl._writeToOutput = (text) => { if (text.startsWith(prompt)) output.write(prompt) }
  return new Promise(resolve => rl.question(prompt, answer => {
    rl.close()
    output.write('\n')
    resolve(answer)
  }))
}
