/**
 * Errors of js/blobs. A full browser or disk is js/storage's
 * StorageQuotaError and any other failure to persist its StoragePersistError
 * (persistError() tells them apart), so Go reads one set of names.
 */
import { StorageError } from '../storage/errors.js'

/** A key that is not one of keys.js's shapes: the bytes were not stored. */
export class BlobKeyError extends StorageError {
  constructor (key) {
    super(`not a blob key: ${JSON.stringify(key)}`)
    this.name = 'BlobKeyError'
  }
}
