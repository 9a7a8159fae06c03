package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Profile is a user's public display name and avatar; "" means unset.
type Profile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// Querier is what both *sql.Tx and *sql.DB offer for reading.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ProfileOf returns the profile of a local user, or ErrUnknownUser. Rooms
// call it inside their writes, with their transaction, to fill the display
// name and avatar of a new m.room.member event.
func ProfileOf(ctx context.Context, q Querier, localpart string) (Profile, error) {
	var name, avatar sql.NullString
	err := q.QueryRowContext(ctx,
		`SELECT p.displayname, p.avatar_url FROM accounts a LEFT JOIN profiles p ON p.localpart = a.localpart
		 WHERE a.localpart = ?`, localpart).Scan(&name, &avatar)
	if errors.Is(err, sql.ErrNoRows) {
		return Profile{}, fmt.Errorf("%w: %s", ErrUnknownUser, localpart)
	}
	if err != nil {
		return Profile{}, fmt.Errorf("load profile of %s: %w", localpart, err)
	}
	return Profile{DisplayName: name.String, AvatarURL: avatar.String}, nil
}

// Profile returns the profile of a user of this server.
func (a *Accounts) Profile(ctx context.Context, user spec.UserID) (Profile, error) {
	if user.Domain() != a.server {
		return Profile{}, fmt.Errorf("%w: %s is not on this server", ErrUnknownUser, user.String())
	}
	return ProfileOf(ctx, a.db, user.Local())
}

// SetDisplayName changes a local user's display name ("" removes it).
func (a *Accounts) SetDisplayName(ctx context.Context, user spec.UserID, name string) error {
	return a.setProfileField(ctx, user, "displayname", name)
}

// SetAvatarURL changes a local user's avatar ("" removes it).
func (a *Accounts) SetAvatarURL(ctx context.Context, user spec.UserID, url string) error {
	return a.setProfileField(ctx, user, "avatar_url", url)
}

// maxProfileField bounds a display name or avatar URL.
const maxProfileField = 1024

func (a *Accounts) setProfileField(ctx context.Context, user spec.UserID, column, value string) error {
	if len(value) > maxProfileField {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrBadProfile, column, maxProfileField)
	}
	var v any = value
	if value == "" {
		v = nil
	}
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := ProfileOf(ctx, tx, user.Local()); err != nil {
			return err
		}
		// column is one of two constants above, never user input.
		_, err := tx.ExecContext(ctx,
			`INSERT INTO profiles (localpart, `+column+`) VALUES (?, ?)
			 ON CONFLICT (localpart) DO UPDATE SET `+column+` = excluded.`+column, user.Local(), v)
		if err != nil {
			return fmt.Errorf("store %s: %w", column, err)
		}
		return nil
	})
}

// UserProfile is a local user found by SearchUsers.
type UserProfile struct {
	UserID string `json:"user_id"`
	Profile
}

// SearchUsers finds local users whose localpart or display name contains
// term (case-insensitively), at most limit of them.
func (a *Accounts) SearchUsers(ctx context.Context, term string, limit int) ([]UserProfile, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(term)) + "%"
	rows, err := a.db.Query(ctx,
		`SELECT a.localpart, p.displayname, p.avatar_url FROM accounts a LEFT JOIN profiles p ON p.localpart = a.localpart
		 WHERE a.localpart LIKE ? ESCAPE '\' OR LOWER(p.displayname) LIKE ? ESCAPE '\' ORDER BY a.localpart LIMIT ?`, like, like, limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	var out []UserProfile
	for rows.Next() {
		var local string
		var name, avatar sql.NullString
		if err := rows.Scan(&local, &name, &avatar); err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		out = append(out, UserProfile{UserID: "@" + local + ":" + string(a.server), Profile: Profile{DisplayName: name.String, AvatarURL: avatar.String}})
	}
	return out, rows.Err()
}
