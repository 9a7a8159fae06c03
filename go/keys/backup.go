package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Server-side key backups (client-server API v1.11, "Server-side key
// backups"): versions of a user's backup, and the room keys in each. Only
// the current (newest, not deleted) version takes keys.

// Sentinels of key backups; the client API maps each to a Matrix errcode.
var (
	ErrNoBackup = errors.New("no such key backup version")
	// ErrWrongBackupVersion means keys were sent to a version that is not
	// the current one; the error says which is.
	ErrWrongBackupVersion = errors.New("not the current key backup version")
	ErrBadBackup          = errors.New("invalid key backup")
)

// WrongBackupVersionError is ErrWrongBackupVersion with the current version,
// which the spec's 403 M_WRONG_ROOM_KEYS_VERSION carries.
type WrongBackupVersionError struct{ Current string }

func (e *WrongBackupVersionError) Error() string {
	return fmt.Sprintf("%s: the current version is %q", ErrWrongBackupVersion, e.Current)
}
func (e *WrongBackupVersionError) Unwrap() error { return ErrWrongBackupVersion }

// BackupVersion is the spec's description of a backup version.
type BackupVersion struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Count     int             `json:"count"`
	ETag      string          `json:"etag"`
	Version   string          `json:"version"`
}

// KeyBackupData is one backed-up room key.
type KeyBackupData struct {
	FirstMessageIndex int             `json:"first_message_index"`
	ForwardedCount    int             `json:"forwarded_count"`
	IsVerified        bool            `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// better reports whether k should replace old, by the spec's rules: a
// verified key beats an unverified one, then the lower first_message_index
// wins, then the lower forwarded_count; on a tie the key held is kept.
func (k KeyBackupData) better(old KeyBackupData) bool {
	if k.IsVerified != old.IsVerified {
		return k.IsVerified
	}
	if k.FirstMessageIndex != old.FirstMessageIndex {
		return k.FirstMessageIndex < old.FirstMessageIndex
	}
	return k.ForwardedCount < old.ForwardedCount
}

// RoomKeys are backed-up keys: room ID → session ID → key.
type RoomKeys map[string]map[string]KeyBackupData

// CreateBackup makes a new current backup version and returns its number.
func (k *Keys) CreateBackup(ctx context.Context, user spec.UserID, algorithm string, authData json.RawMessage) (string, error) {
	if algorithm == "" || !isObject(authData) {
		return "", fmt.Errorf("%w: algorithm and auth_data (an object) are required", ErrBadBackup)
	}
	var version int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM key_backup_versions WHERE localpart = ?`,
			user.Local()).Scan(&version); err != nil {
			return fmt.Errorf("choose key backup version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_backup_versions (localpart, version, algorithm, auth_data) VALUES (?, ?, ?, ?)`,
			user.Local(), version, algorithm, []byte(authData)); err != nil {
			return fmt.Errorf("create key backup version: %w", err)
		}
		return nil
	})
	return strconv.FormatInt(version, 10), err
}

// Backup describes a version of user's backup; "" is the current one.
func (k *Keys) Backup(ctx context.Context, user spec.UserID, version string) (BackupVersion, error) {
	var bv BackupVersion
	err := func(q querier) error {
		v, err := backupVersion(ctx, q, user, version)
		if err != nil {
			return err
		}
		var authData []byte
		var etag int64
		if err := q.QueryRowContext(ctx, `SELECT algorithm, auth_data, etag FROM key_backup_versions WHERE localpart = ? AND version = ?`,
			user.Local(), v).Scan(&bv.Algorithm, &authData, &etag); err != nil {
			return fmt.Errorf("load key backup version: %w", err)
		}
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_backup_keys WHERE localpart = ? AND version = ?`,
			user.Local(), v).Scan(&bv.Count); err != nil {
			return fmt.Errorf("count backed-up keys: %w", err)
		}
		bv.AuthData, bv.ETag, bv.Version = authData, strconv.FormatInt(etag, 10), strconv.FormatInt(v, 10)
		return nil
	}(k.db)
	return bv, err
}

// UpdateBackup replaces a version's auth_data; the algorithm cannot change.
func (k *Keys) UpdateBackup(ctx context.Context, user spec.UserID, version, algorithm string, authData json.RawMessage) error {
	if !isObject(authData) {
		return fmt.Errorf("%w: auth_data must be an object", ErrBadBackup)
	}
	return k.db.Write(ctx, func(tx *sql.Tx) error {
		v, err := backupVersion(ctx, tx, user, version)
		if err != nil {
			return err
		}
		var current string
		if err := tx.QueryRowContext(ctx, `SELECT algorithm FROM key_backup_versions WHERE localpart = ? AND version = ?`,
			user.Local(), v).Scan(&current); err != nil {
			return fmt.Errorf("load key backup version: %w", err)
		}
		if algorithm != current {
			return fmt.Errorf("%w: the algorithm of a version cannot change (%s)", ErrBadBackup, current)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE key_backup_versions SET auth_data = ? WHERE localpart = ? AND version = ?`,
			[]byte(authData), user.Local(), v); err != nil {
			return fmt.Errorf("update key backup version: %w", err)
		}
		return nil
	})
}

// DeleteBackup deletes a version and its keys.
func (k *Keys) DeleteBackup(ctx context.Context, user spec.UserID, version string) error {
	return k.db.Write(ctx, func(tx *sql.Tx) error {
		v, err := backupVersion(ctx, tx, user, version)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM key_backup_keys WHERE localpart = ? AND version = ?`, user.Local(), v); err != nil {
			return fmt.Errorf("delete backed-up keys: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE key_backup_versions SET deleted = 1 WHERE localpart = ? AND version = ?`, user.Local(), v); err != nil {
			return fmt.Errorf("delete key backup version: %w", err)
		}
		return nil
	})
}

// PutRoomKeys stores keys in the current version, each only if it is better
// than the one held, and returns the version's count and etag after.
func (k *Keys) PutRoomKeys(ctx context.Context, user spec.UserID, version string, keys RoomKeys) (int, string, error) {
	var count int
	var etag int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		current, err := backupVersion(ctx, tx, user, "")
		if errors.Is(err, ErrNoBackup) {
			return fmt.Errorf("%w: %s", ErrNoBackup, version)
		}
		if err != nil {
			return err
		}
		if version != strconv.FormatInt(current, 10) {
			return &WrongBackupVersionError{Current: strconv.FormatInt(current, 10)}
		}
		changed := false
		for roomID, sessions := range keys {
			for sessionID, key := range sessions {
				if !isObject(key.SessionData) {
					return fmt.Errorf("%w: session_data of %s must be an object", ErrBadBackup, sessionID)
				}
				var old KeyBackupData
				var oldData []byte
				err := tx.QueryRowContext(ctx,
					`SELECT first_message_index, forwarded_count, is_verified, session_data FROM key_backup_keys
					 WHERE localpart = ? AND version = ? AND room_id = ? AND session_id = ?`,
					user.Local(), current, roomID, sessionID).Scan(&old.FirstMessageIndex, &old.ForwardedCount, &old.IsVerified, &oldData)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("load backed-up key: %w", err)
				}
				if err == nil && !key.better(old) {
					continue
				}
				if _, err := tx.ExecContext(ctx,
					`INSERT OR REPLACE INTO key_backup_keys (localpart, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
					 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
					user.Local(), current, roomID, sessionID, key.FirstMessageIndex, key.ForwardedCount, key.IsVerified, []byte(key.SessionData)); err != nil {
					return fmt.Errorf("store backed-up key: %w", err)
				}
				changed = true
			}
		}
		if changed {
			if _, err := tx.ExecContext(ctx, `UPDATE key_backup_versions SET etag = etag + 1 WHERE localpart = ? AND version = ?`, user.Local(), current); err != nil {
				return fmt.Errorf("bump key backup etag: %w", err)
			}
		}
		return countAndETag(ctx, tx, user, current, &count, &etag)
	})
	return count, strconv.FormatInt(etag, 10), err
}

// RoomKeys returns the keys of a version, narrowed to one room and session
// when they are not "".
func (k *Keys) RoomKeys(ctx context.Context, user spec.UserID, version, roomID, sessionID string) (RoomKeys, error) {
	out := RoomKeys{}
	err := func(q querier) error {
		v, err := backupVersion(ctx, q, user, version)
		if err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx,
			`SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data FROM key_backup_keys
			 WHERE localpart = ? AND version = ? AND (? = '' OR room_id = ?) AND (? = '' OR session_id = ?)`,
			user.Local(), v, roomID, roomID, sessionID, sessionID)
		if err != nil {
			return fmt.Errorf("load backed-up keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var room, session string
			var key KeyBackupData
			var data []byte
			if err := rows.Scan(&room, &session, &key.FirstMessageIndex, &key.ForwardedCount, &key.IsVerified, &data); err != nil {
				return fmt.Errorf("load backed-up keys: %w", err)
			}
			key.SessionData = data
			if out[room] == nil {
				out[room] = map[string]KeyBackupData{}
			}
			out[room][session] = key
		}
		return rows.Err()
	}(k.db)
	return out, err
}

// DeleteRoomKeys deletes keys of a version, narrowed to one room and session
// when they are not "", and returns the version's count and etag after.
func (k *Keys) DeleteRoomKeys(ctx context.Context, user spec.UserID, version, roomID, sessionID string) (int, string, error) {
	var count int
	var etag int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		v, err := backupVersion(ctx, tx, user, version)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`DELETE FROM key_backup_keys WHERE localpart = ? AND version = ? AND (? = '' OR room_id = ?) AND (? = '' OR session_id = ?)`,
			user.Local(), v, roomID, roomID, sessionID, sessionID)
		if err != nil {
			return fmt.Errorf("delete backed-up keys: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE key_backup_versions SET etag = etag + 1 WHERE localpart = ? AND version = ?`, user.Local(), v); err != nil {
				return fmt.Errorf("bump key backup etag: %w", err)
			}
		}
		return countAndETag(ctx, tx, user, v, &count, &etag)
	})
	return count, strconv.FormatInt(etag, 10), err
}

func countAndETag(ctx context.Context, q querier, user spec.UserID, version int64, count *int, etag *int64) error {
	err := q.QueryRowContext(ctx,
		`SELECT (SELECT COUNT(*) FROM key_backup_keys WHERE localpart = ? AND version = ?), etag
		 FROM key_backup_versions WHERE localpart = ? AND version = ?`,
		user.Local(), version, user.Local(), version).Scan(count, etag)
	if err != nil {
		return fmt.Errorf("count backed-up keys: %w", err)
	}
	return nil
}

// backupVersion resolves a version of user's backup that is not deleted;
// "" is the current one. ErrNoBackup when there is none such.
func backupVersion(ctx context.Context, q querier, user spec.UserID, version string) (int64, error) {
	var v sql.NullInt64
	var err error
	if version == "" {
		err = q.QueryRowContext(ctx, `SELECT MAX(version) FROM key_backup_versions WHERE localpart = ? AND deleted = 0`, user.Local()).Scan(&v)
	} else if n, perr := strconv.ParseInt(version, 10, 64); perr == nil {
		err = q.QueryRowContext(ctx, `SELECT version FROM key_backup_versions WHERE localpart = ? AND version = ? AND deleted = 0`, user.Local(), n).Scan(&v)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("look up key backup version: %w", err)
	}
	if !v.Valid {
		return 0, fmt.Errorf("%w: %q", ErrNoBackup, version)
	}
	return v.Int64, nil
}

// querier reads: the database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}
