package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Cross-signing (client-server API, "Cross-signing"): a user's master key
// signs their self-signing key (which signs their devices) and their
// user-signing key (which signs other users' master keys). The server stores
// the keys and the signatures clients upload, and hands them out with
// /keys/query; clients check every signature themselves.

// Cross-signing key types, as /keys/device_signing/upload names them.
const (
	MasterKey      = "master"
	SelfSigningKey = "self_signing"
	UserSigningKey = "user_signing"
)

// crossSigningKey is what the server reads of a CrossSigningKey object.
type crossSigningKey struct {
	UserID string            `json:"user_id"`
	Usage  []string          `json:"usage"`
	Keys   map[string]string `json:"keys"`
}

// UploadCrossSigning stores a user's cross-signing keys (any of the three;
// keys maps key type to object). Room mates' clients learn of the change
// through their device lists.
func (k *Keys) UploadCrossSigning(ctx context.Context, user spec.UserID, keys map[string]json.RawMessage) error {
	for keyType, raw := range keys {
		var c crossSigningKey
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("%w: %s key: %v", ErrBadKeys, keyType, err)
		}
		if c.UserID != user.String() || len(c.Keys) != 1 {
			return fmt.Errorf("%w: %s key must be the uploader's and hold one key", ErrBadKeys, keyType)
		}
		ok := false
		for _, u := range c.Usage {
			ok = ok || u == keyType
		}
		if !ok {
			return fmt.Errorf("%w: %s key lacks usage %q", ErrBadKeys, keyType, keyType)
		}
	}
	var pos int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		for keyType, raw := range keys {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO cross_signing_keys (user_id, key_type, json) VALUES (?, ?, ?)
				 ON CONFLICT (user_id, key_type) DO UPDATE SET json = excluded.json`, user.String(), keyType, []byte(raw)); err != nil {
				return fmt.Errorf("store %s key: %w", keyType, err)
			}
		}
		var err error
		pos, err = keyChanged(ctx, tx, user.String())
		return err
	})
	if err == nil {
		k.opts.DataAdvanced(pos)
	}
	return err
}

// UploadSignatures merges signatures by uploader into stored keys: signed
// maps user ID → key ID (a device ID, or a cross-signing public key) → the
// signed object. It returns per-key failures, as the spec's answer has them.
func (k *Keys) UploadSignatures(ctx context.Context, uploader spec.UserID, signed map[string]map[string]json.RawMessage) (map[string]map[string]any, error) {
	failures := map[string]map[string]any{}
	fail := func(uid, keyID, msg string) {
		if failures[uid] == nil {
			failures[uid] = map[string]any{}
		}
		failures[uid][keyID] = map[string]string{"errcode": "M_INVALID_SIGNATURE", "error": msg}
	}
	var pos int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		for uid, byKey := range signed {
			changed := false
			for keyID, raw := range byKey {
				var obj struct {
					Signatures map[string]map[string]string `json:"signatures"`
				}
				if err := json.Unmarshal(raw, &obj); err != nil || len(obj.Signatures[uploader.String()]) == 0 {
					fail(uid, keyID, "no signature by the uploader")
					continue
				}
				ok, err := mergeSignatures(ctx, tx, uid, keyID, uploader.String(), obj.Signatures[uploader.String()])
				if err != nil {
					return err
				}
				if !ok {
					fail(uid, keyID, "no such device or cross-signing key")
					continue
				}
				changed = true
			}
			if changed {
				var err error
				if pos, err = keyChanged(ctx, tx, uid); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pos > 0 {
		k.opts.DataAdvanced(pos)
	}
	return failures, nil
}

// mergeSignatures adds sigs (key ID → signature) by signer to the stored
// device keys or cross-signing key keyID of uid; false if there is none.
func mergeSignatures(ctx context.Context, tx *sql.Tx, uid, keyID, signer string, sigs map[string]string) (bool, error) {
	table, where, args := "device_keys", "user_id = ? AND device_id = ?", []any{uid, keyID}
	var raw []byte
	err := tx.QueryRowContext(ctx, `SELECT json FROM device_keys WHERE `+where, args...).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		// Not a device: a cross-signing key named by its public key.
		rows, err := tx.QueryContext(ctx, `SELECT key_type, json FROM cross_signing_keys WHERE user_id = ?`, uid)
		if err != nil {
			return false, fmt.Errorf("load cross-signing keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var keyType string
			var j []byte
			if err := rows.Scan(&keyType, &j); err != nil {
				return false, fmt.Errorf("load cross-signing keys: %w", err)
			}
			var c crossSigningKey
			if json.Unmarshal(j, &c) == nil && c.Keys["ed25519:"+keyID] != "" {
				table, where, args, raw = "cross_signing_keys", "user_id = ? AND key_type = ?", []any{uid, keyType}, j
				break
			}
		}
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("load cross-signing keys: %w", err)
		}
		if raw == nil {
			return false, nil
		}
	} else if err != nil {
		return false, fmt.Errorf("load device keys: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return false, fmt.Errorf("stored keys of %s: %w", uid, err)
	}
	all := map[string]map[string]string{}
	if s, ok := obj["signatures"]; ok {
		_ = json.Unmarshal(s, &all) // a malformed stored block is replaced
	}
	if all[signer] == nil {
		all[signer] = map[string]string{}
	}
	for id, sig := range sigs {
		if strings.HasPrefix(id, "ed25519:") {
			all[signer][id] = sig
		}
	}
	if obj["signatures"], err = json.Marshal(all); err != nil {
		return false, fmt.Errorf("encode signatures: %w", err)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return false, fmt.Errorf("encode keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET json = ? WHERE `+where, append([]any{out}, args...)...); err != nil {
		return false, fmt.Errorf("store signatures: %w", err)
	}
	return true, nil
}

// crossSigningFor fills res with the cross-signing keys of uid; the
// user-signing key only when uid is the requester (it is private to them).
func (k *Keys) crossSigningFor(ctx context.Context, res *QueryResult, requester, uid string) error {
	rows, err := k.db.Query(ctx, `SELECT key_type, json FROM cross_signing_keys WHERE user_id = ?`, uid)
	if err != nil {
		return fmt.Errorf("load cross-signing keys of %s: %w", uid, err)
	}
	defer rows.Close()
	for rows.Next() {
		var keyType string
		var raw []byte
		if err := rows.Scan(&keyType, &raw); err != nil {
			return fmt.Errorf("load cross-signing keys of %s: %w", uid, err)
		}
		switch keyType {
		case MasterKey:
			res.MasterKeys[uid] = raw
		case SelfSigningKey:
			res.SelfSigningKeys[uid] = raw
		case UserSigningKey:
			if uid == requester {
				res.UserSigningKeys[uid] = raw
			}
		}
	}
	return rows.Err()
}
