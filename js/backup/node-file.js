/**
 * A backup written to a file (Node): through FILE.partial, fsynced and
 * renamed when whole, so a failed or interrupted export never leaves a file
 * that looks like a backup. Node only.
 */
import { open, rename, rm } from 'node:fs/promises'
import { writeBackup } from './writer.js'
import { nodeScrypt } from './node-scrypt.js'

/**
 * @param {string} file
 * @param {Omit<Parameters<typeof writeBackup>[0], 'write'>} options writeBackup's, but
 *   write; scrypt defaults to Node's native one
 * @returns {ReturnType<typeof writeBackup>}
 */
export async function writeBackupFile (file, options) {
  const partial = `${file}.partial`
  const out = await open(partial, 'w')
  try {
    const written = await writeBackup({
      scrypt: nodeScrypt,
      ...options,
      // One write call may write less than asked (a full disk, a signal): loop.
      write: async (bytes) => {
        for (let o = 0; o < bytes.length;) o += (await out.write(bytes, o)).bytesWritten
      }
    })
    await out.sync()
    await out.close()
    await rename(partial, file)
    return written
  } catch (err) {
    await out.close().catch(() => {})
    await rm(partial, { force: true })
    throw err
  }
}
