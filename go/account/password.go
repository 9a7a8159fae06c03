package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"golang.org/x/crypto/bcrypt"
)

// deactivatedHash is the password hash of a deactivated account: no password
// matches it, so nobody logs in again, and the row stays so that the user ID
// is never handed to someone else (client-server API, "Account deactivation").
const deactivatedHash = ""

// maxPasswordBytes is bcrypt's limit: it reads at most 72 bytes.
const maxPasswordBytes = 72

// hashPassword checks a new password's length and hashes it.
func (a *Accounts) hashPassword(password string) (string, error) {
	if len(password) == 0 || len(password) > maxPasswordBytes {
		return "", fmt.Errorf("%w: must be 1 to %d bytes", ErrBadPassword, maxPasswordBytes)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

// CheckPassword returns ErrWrongLogin unless password is localpart's. An
// unknown or deactivated user takes as long as a wrong password, so names
// cannot be probed by timing.
func (a *Accounts) CheckPassword(ctx context.Context, localpart, password string) error {
	var hash string
	err := a.db.QueryRow(ctx, `SELECT password_hash FROM accounts WHERE localpart = ?`, localpart).Scan(&hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("look up account: %w", err)
	}
	if hash == deactivatedHash {
		a.dummyHashOnce.Do(func() { a.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("dummy"), a.bcryptCost) })
		bcrypt.CompareHashAndPassword(a.dummyHash, []byte(password))
		return ErrWrongLogin
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return ErrWrongLogin
	}
	return nil
}

// SetPassword replaces localpart's password. With logoutOthers, every device
// but keepDeviceID is logged out, as the spec's POST /account/password does
// by default: whoever learnt the old password loses the sessions it opened.
func (a *Accounts) SetPassword(ctx context.Context, localpart, password string, logoutOthers bool, keepDeviceID string) error {
	hash, err := a.hashPassword(password)
	if err != nil {
		return err
	}
	if logoutOthers {
		defer a.tokens.invalidate()
	}
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE localpart = ?`, hash, localpart); err != nil {
			return fmt.Errorf("store password: %w", err)
		}
		if !logoutOthers {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE localpart = ? AND device_id != ?`, localpart, keepDeviceID); err != nil {
			return fmt.Errorf("log out other devices: %w", err)
		}
		return nil
	})
}

// Deactivate ends an account for good: its password stops matching and
// every device is logged out. The caller leaves its rooms.
func (a *Accounts) Deactivate(ctx context.Context, localpart string) error {
	defer a.tokens.invalidate()
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE localpart = ?`, deactivatedHash, localpart); err != nil {
			return fmt.Errorf("deactivate %s: %w", localpart, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE localpart = ?`, localpart); err != nil {
			return fmt.Errorf("log out devices of %s: %w", localpart, err)
		}
		return nil
	})
}

// Active reports whether user is an account of this server that can still
// log in: not unknown, not deactivated. Other servers may invite only these.
func (a *Accounts) Active(ctx context.Context, user spec.UserID) (bool, error) {
	if user.Domain() != a.server {
		return false, nil
	}
	var hash string
	err := a.db.QueryRow(ctx, `SELECT password_hash FROM accounts WHERE localpart = ?`, user.Local()).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up account %s: %w", user.Local(), err)
	}
	return hash != deactivatedHash, nil
}
