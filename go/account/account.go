// Package account keeps users, their passwords and their devices (each device
// is one access token).
package account

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"golang.org/x/crypto/bcrypt"

	"hearth/go/storage"
)

// Device is one logged-in session of a user.
type Device struct {
	UserID      spec.UserID
	DeviceID    string
	AccessToken string
}

// Localpart is the user's name on this server.
func (d Device) Localpart() string { return d.UserID.Local() }

// Accounts stores users and devices in the database.
type Accounts struct {
	db     *storage.DB
	server spec.ServerName
	// BcryptCost is the password hashing cost; tests lower it to bcrypt.MinCost.
	bcryptCost int
	now        func() time.Time
	random     io.Reader

	dummyHashOnce sync.Once
	dummyHash     []byte // compared against for unknown users

	// tokens caches Authenticate (tokens.go); whatever deletes devices
	// invalidates it once its write returns.
	tokens *tokenCache
}

// Options configure Accounts; zero values mean production defaults.
type Options struct {
	BcryptCost int              // 0: bcrypt.DefaultCost
	Now        func() time.Time // nil: time.Now
	Random     io.Reader        // nil: crypto/rand
}

// New returns the account store of the server named server.
func New(db *storage.DB, server spec.ServerName, opts Options) *Accounts {
	a := &Accounts{db: db, server: server, bcryptCost: opts.BcryptCost, now: opts.Now, random: opts.Random, tokens: newTokenCache()}
	if a.bcryptCost == 0 {
		a.bcryptCost = bcrypt.DefaultCost
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.random == nil {
		a.random = rand.Reader
	}
	return a
}

// maxUserIDLength is the spec's limit on a whole user ID (appendix: user identifiers).
const maxUserIDLength = 255

// ValidateLocalpart checks a requested username against the spec's grammar for
// new user IDs: lower-case letters, digits and ._=-/+ only.
func (a *Accounts) ValidateLocalpart(localpart string) error {
	if localpart == "" {
		return fmt.Errorf("%w: empty", ErrInvalidUsername)
	}
	for _, c := range localpart {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._=-/+", c)) {
			return fmt.Errorf("%w: %q may only contain a-z, 0-9 and ._=-/+", ErrInvalidUsername, localpart)
		}
	}
	if len("@"+localpart+":"+string(a.server)) > maxUserIDLength {
		return fmt.Errorf("%w: too long", ErrInvalidUsername)
	}
	return nil
}

// Available reports whether localpart is valid and not yet taken.
func (a *Accounts) Available(ctx context.Context, localpart string) error {
	if err := a.ValidateLocalpart(localpart); err != nil {
		return err
	}
	var n int
	if err := a.db.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE localpart = ?`, localpart).Scan(&n); err != nil {
		return fmt.Errorf("look up account: %w", err)
	}
	if n > 0 {
		return ErrUserInUse
	}
	return nil
}

// Register creates an account and logs in its first device.
// An empty deviceID makes a new one.
func (a *Accounts) Register(ctx context.Context, localpart, password, deviceID, displayName string) (Device, error) {
	if err := a.Available(ctx, localpart); err != nil {
		return Device{}, err
	}
	if err := validateDevice(deviceID, displayName); err != nil {
		return Device{}, err
	}
	hash, err := a.hashPassword(password)
	if err != nil {
		return Device{}, err
	}
	var dev Device
	err = a.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO accounts (localpart, password_hash, created_ts) VALUES (?, ?, ?)`,
			localpart, hash, a.now().UnixMilli())
		if err != nil {
			// Lost a race with another registration of the same name.
			if strings.Contains(err.Error(), "UNIQUE") {
				return ErrUserInUse
			}
			return fmt.Errorf("insert account: %w", err)
		}
		dev, err = a.newDeviceTx(ctx, tx, localpart, deviceID, displayName)
		return err
	})
	return dev, err
}

// Login checks a password and logs in a device. An empty deviceID makes a new one;
// an existing one gets a fresh access token.
func (a *Accounts) Login(ctx context.Context, localpart, password, deviceID, displayName string) (Device, error) {
	if err := validateDevice(deviceID, displayName); err != nil {
		return Device{}, err
	}
	if err := a.CheckPassword(ctx, localpart, password); err != nil {
		return Device{}, err
	}
	var dev Device
	if deviceID != "" {
		defer a.tokens.invalidate() // the device's old token
	}
	err := a.db.Write(ctx, func(tx *sql.Tx) error {
		if deviceID != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE localpart = ? AND device_id = ?`, localpart, deviceID); err != nil {
				return fmt.Errorf("replace device: %w", err)
			}
		}
		var err error
		dev, err = a.newDeviceTx(ctx, tx, localpart, deviceID, displayName)
		return err
	})
	return dev, err
}

func (a *Accounts) newDeviceTx(ctx context.Context, tx *sql.Tx, localpart, deviceID, displayName string) (Device, error) {
	userID, err := spec.NewUserID("@"+localpart+":"+string(a.server), true)
	if err != nil {
		return Device{}, fmt.Errorf("%w: %v", ErrInvalidUsername, err)
	}
	if deviceID == "" {
		deviceID = strings.ToUpper(a.randomString(8))
	}
	token := "hearth_" + a.randomString(32)
	_, err = tx.ExecContext(ctx,
		`INSERT INTO devices (access_token, localpart, device_id, display_name, created_ts) VALUES (?, ?, ?, ?, ?)`,
		token, localpart, deviceID, displayName, a.now().UnixMilli())
	if err != nil {
		return Device{}, fmt.Errorf("insert device: %w", err)
	}
	return Device{UserID: *userID, DeviceID: deviceID, AccessToken: token}, nil
}

// Authenticate returns the device an access token belongs to.
func (a *Accounts) Authenticate(ctx context.Context, token string) (Device, error) {
	dev, ok, gen := a.tokens.lookup(token)
	if ok {
		return dev, nil
	}
	dev, err := a.authenticate(ctx, token)
	if err != nil {
		return Device{}, err
	}
	a.tokens.add(gen, dev)
	return dev, nil
}

// authenticate is Authenticate from the database.
func (a *Accounts) authenticate(ctx context.Context, token string) (Device, error) {
	var localpart, deviceID string
	err := a.db.QueryRow(ctx, `SELECT localpart, device_id FROM devices WHERE access_token = ?`, token).Scan(&localpart, &deviceID)
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, ErrUnknownToken
	}
	if err != nil {
		return Device{}, fmt.Errorf("look up access token: %w", err)
	}
	userID, err := spec.NewUserID("@"+localpart+":"+string(a.server), true)
	if err != nil {
		return Device{}, fmt.Errorf("stored user %q: %w", localpart, err)
	}
	return Device{UserID: *userID, DeviceID: deviceID, AccessToken: token}, nil
}

// Logout deletes the device behind an access token.
func (a *Accounts) Logout(ctx context.Context, token string) error {
	defer a.tokens.invalidate()
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE access_token = ?`, token)
		return err
	})
}

// LogoutAll deletes every device of user, the caller's too: the spec's
// POST /logout/all.
func (a *Accounts) LogoutAll(ctx context.Context, user spec.UserID) error {
	defer a.tokens.invalidate()
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE localpart = ?`, user.Local()); err != nil {
			return fmt.Errorf("log out all devices of %s: %w", user.String(), err)
		}
		return nil
	})
}

// randomString returns n URL-safe characters.
func (a *Accounts) randomString(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.random, b); err != nil {
		panic(fmt.Sprintf("read randomness: %v", err)) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
