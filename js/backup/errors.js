/**
 * Errors of js/backup, each with a stable `name` (they cross to the page as
 * {name, message}). Nothing was written when any of them is thrown by an
 * import: the caller leaves the target as it found it.
 */

export class BackupError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'BackupError'
  }
}

/** The passphrase does not open this backup (the header's key check differs). */
export class BackupPassphraseError extends BackupError {
  constructor () {
    super('wrong passphrase: this backup cannot be opened with it')
    this.name = 'BackupPassphraseError'
  }
}

/** The file is not a Hearth backup, or was truncated, reordered or altered. */
export class BackupCorruptError extends BackupError {
  constructor (message, options) {
    super(`the backup file is damaged: ${message}`, options)
    this.name = 'BackupCorruptError'
  }
}

/** A backup of a format version this code does not read. */
export class BackupVersionError extends BackupError {
  constructor (version) {
    super(`backup format version ${version} is not supported (this Hearth reads version 1)`)
    this.name = 'BackupVersionError'
  }
}

/** An import into a server that already has data: a backup only goes into an empty one. */
export class BackupTargetNotEmptyError extends BackupError {
  constructor (what) {
    super(`cannot import into ${what}: it already holds a server (a backup only goes into an empty one)`)
    this.name = 'BackupTargetNotEmptyError'
  }
}
