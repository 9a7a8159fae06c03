package account

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Pushers (client-server API v1.11, "Push Notifications", "GET /pushers" and
// "POST /pushers/set"). A pusher belongs to the session that set it: one whose
// device is gone (logged out, deleted, logged out by a password change) is
// neither listed nor kept.

// Pusher is the spec's Pusher object.
type Pusher struct {
	PushKey           string          `json:"pushkey"`
	Kind              string          `json:"kind"`
	AppID             string          `json:"app_id"`
	AppDisplayName    string          `json:"app_display_name"`
	DeviceDisplayName string          `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag,omitempty"`
	Lang              string          `json:"lang"`
	Data              json.RawMessage `json:"data"`
}

// Spec limits of a pusher's keys (POST /pushers/set).
const (
	maxAppIDLength   = 64
	maxPushKeyLength = 512
)

// pushGatewayPath is the path an HTTP pusher's data.url must have.
const pushGatewayPath = "/_matrix/push/v1/notify"

// validate applies the spec's rules for a pusher to create or update.
func (p Pusher) validate() error {
	switch {
	case p.PushKey == "" || p.AppID == "":
		return fmt.Errorf("%w: pushkey and app_id are required", ErrBadPusher)
	case len(p.AppID) > maxAppIDLength || len(p.PushKey) > maxPushKeyLength:
		return fmt.Errorf("%w: app_id is at most %d bytes, pushkey %d", ErrBadPusher, maxAppIDLength, maxPushKeyLength)
	case p.Kind != "http" && p.Kind != "email":
		return fmt.Errorf("%w: kind must be http, email or null", ErrBadPusher)
	case p.AppDisplayName == "" || p.DeviceDisplayName == "" || p.Lang == "" || len(p.Data) == 0:
		return fmt.Errorf("%w: app_display_name, device_display_name, lang and data are required", ErrBadPusher)
	}
	var data struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(p.Data, &data); err != nil {
		return fmt.Errorf("%w: data must be an object", ErrBadPusher)
	}
	if p.Kind == "http" {
		u, err := url.Parse(data.URL)
		if err != nil || data.URL == "" || u.Path != pushGatewayPath {
			return fmt.Errorf("%w: an http pusher's data.url must be a URL with the path %s", ErrBadPusher, pushGatewayPath)
		}
	}
	return nil
}

// Pushers returns the pushers of user's live sessions.
func (a *Accounts) Pushers(ctx context.Context, user spec.UserID) ([]Pusher, error) {
	rows, err := a.db.Query(ctx,
		`SELECT p.body FROM pushers p JOIN devices d ON d.localpart = p.localpart AND d.device_id = p.device_id
		 WHERE p.localpart = ? ORDER BY p.app_id, p.pushkey`, user.Local())
	if err != nil {
		return nil, fmt.Errorf("load pushers of %s: %w", user.String(), err)
	}
	defer rows.Close()
	out := []Pusher{}
	for rows.Next() {
		var raw []byte
		var p Pusher
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("load pushers of %s: %w", user.String(), err)
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("stored pusher of %s: %w", user.String(), err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPusher creates or replaces dev's user's pusher of (app_id, pushkey),
// made by dev. Unless appendOthers, the same pusher of every other user goes
// (the pushkey now reaches this user).
func (a *Accounts) SetPusher(ctx context.Context, dev Device, p Pusher, appendOthers bool) error {
	if err := p.validate(); err != nil {
		return err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pusher: %w", err)
	}
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if err := deleteStalePushers(ctx, tx, dev.Localpart()); err != nil {
			return err
		}
		if !appendOthers {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND localpart != ?`,
				p.AppID, p.PushKey, dev.Localpart()); err != nil {
				return fmt.Errorf("remove others' pushers: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO pushers (localpart, app_id, pushkey, device_id, body) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (localpart, app_id, pushkey) DO UPDATE SET device_id = excluded.device_id, body = excluded.body`,
			dev.Localpart(), p.AppID, p.PushKey, dev.DeviceID, body)
		if err != nil {
			return fmt.Errorf("store pusher: %w", err)
		}
		return nil
	})
}

// DeletePusher removes user's pusher of (appID, pushKey), if any.
func (a *Accounts) DeletePusher(ctx context.Context, user spec.UserID, appID, pushKey string) error {
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pushers WHERE localpart = ? AND app_id = ? AND pushkey = ?`,
			user.Local(), appID, pushKey); err != nil {
			return fmt.Errorf("delete pusher: %w", err)
		}
		return deleteStalePushers(ctx, tx, user.Local())
	})
}

// deleteStalePushers removes localpart's pushers whose session is gone.
func deleteStalePushers(ctx context.Context, tx *sql.Tx, localpart string) error {
	_, err := tx.ExecContext(ctx,
		`DELETE FROM pushers WHERE localpart = ? AND NOT EXISTS (
			SELECT 1 FROM devices d WHERE d.localpart = pushers.localpart AND d.device_id = pushers.device_id)`, localpart)
	if err != nil {
		return fmt.Errorf("delete pushers of ended sessions: %w", err)
	}
	return nil
}
