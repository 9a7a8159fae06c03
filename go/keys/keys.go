// Package keys keeps what end-to-end encryption needs from a server
// (client-server API, "End-to-End Encryption" and "Send-to-Device messaging"):
// device keys, one-time and fallback keys, device list changes, and
// to-device messages waiting for their device. The server never sees a
// plaintext: it stores and relays what clients sign and encrypt.
//
// Users of other servers are federation's: Options.QueryRemote, ClaimRemote
// and SendRemote are its hooks (nil: those users fail or are dropped), and it
// calls ReceiveToDevice and DeviceListChanged for what arrives.
package keys

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// ErrBadKeys means uploaded keys are malformed or belong to someone else.
var ErrBadKeys = errors.New("invalid keys")

// ErrNoFederation means a remote user's keys or devices were needed and no
// federation hook is installed.
var ErrNoFederation = errors.New("no federation for remote users")

// Options connect Keys to the server. Nil functions mean "not available".
type Options struct {
	// DataAdvanced is told the new data-stream position after commits.
	DataAdvanced func(int64)
	// Devices lists a local user's device IDs (to expand "*" in to-device messages).
	Devices func(ctx context.Context, user spec.UserID) ([]string, error)
	// QueryRemote fetches device and cross-signing keys of another server's
	// users (POST /_matrix/federation/v1/user/keys/query): user ID → device
	// IDs (empty: all) in, the answer's device_keys, master_keys and
	// self_signing_keys out (the other maps may be nil). Query checks what
	// comes back (see checkRemote), so the hook need not.
	QueryRemote func(ctx context.Context, server spec.ServerName, users map[string][]string) (QueryResult, error)
	// ClaimRemote claims one-time keys of another server's users
	// (POST /_matrix/federation/v1/user/keys/claim): user → device → algorithm
	// in, user → device → key ID → key out.
	ClaimRemote func(ctx context.Context, server spec.ServerName, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error)
	// SendRemote delivers to-device messages to another server's users
	// (m.direct_to_device EDU): user → device ("*" for all) → content.
	SendRemote func(ctx context.Context, sender spec.UserID, evType string, server spec.ServerName, messages map[string]map[string]json.RawMessage) error
	// DeviceChanged is told, after commit, that a local user's device got
	// new keys (keys is the device keys object) or was deleted (keys nil),
	// for other servers sharing a room (m.device_list_update EDU). It must
	// not block.
	DeviceChanged func(user spec.UserID, deviceID string, keys json.RawMessage)
	Now           func() time.Time // nil: time.Now
}

// Keys is the key and to-device store of one server.
type Keys struct {
	db     *storage.DB
	server spec.ServerName
	opts   Options
	// counts are the key counts ForSync last read per device, to answer a
	// /sync with no new data without a statement; countsGen moves past them
	// after every write that may change any device's counts.
	counts    sync.Map // deviceRef → countsAt
	countsGen atomic.Uint64
}

// deviceRef names one device of one user.
type deviceRef struct{ user, device string }

// countsAt are a device's key counts as read while countsGen was gen.
// carried: that read also carried to-device messages, which the next /sync
// acknowledges, so it must run the statement that deletes them.
type countsAt struct {
	gen      uint64
	otk      map[string]int
	fallback []string
	carried  bool
}

// keyCountsChanged makes every remembered count stale. Called once a write
// that may have changed one-time or fallback keys has ended, committed or
// not: a count read before then carries an older generation.
func (k *Keys) keyCountsChanged() { k.countsGen.Add(1) }

// New returns the store of the server named server.
func New(db *storage.DB, server spec.ServerName, opts Options) *Keys {
	if opts.DataAdvanced == nil {
		opts.DataAdvanced = func(int64) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Keys{db: db, server: server, opts: opts}
}

func (k *Keys) now() time.Time { return k.opts.Now() }

// Upload is the body of POST /keys/upload.
type Upload struct {
	DeviceKeys   json.RawMessage `json:"device_keys"`
	OneTimeKeys  KeyList         `json:"one_time_keys"`
	FallbackKeys KeyList         `json:"fallback_keys"`
}

// KeyList is a JSON object of key ID → key that keeps the order its keys
// were written in: one-time keys are claimed in upload order, and within one
// upload in the order the client listed them (the spec leaves that order
// open; the client's own is the least surprising).
type KeyList []KeyEntry

// KeyEntry is one key of a KeyList.
type KeyEntry struct {
	ID  string
	Key json.RawMessage
}

// UnmarshalJSON reads a JSON object (or null) in document order; a key ID
// written twice keeps its first key.
func (l *KeyList) UnmarshalJSON(data []byte) error {
	*l = nil
	dec := json.NewDecoder(strings.NewReader(string(data)))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("keys: want an object, got %v", tok)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		id, _ := tok.(string)
		var key json.RawMessage
		if err := dec.Decode(&key); err != nil {
			return err
		}
		if !seen[id] {
			seen[id] = true
			*l = append(*l, KeyEntry{ID: id, Key: key})
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

// MarshalJSON writes the list back as a JSON object in its order.
func (l KeyList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("null"), nil
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		id, _ := json.Marshal(e.ID)
		b.Write(id)
		b.WriteByte(':')
		b.Write(e.Key)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// Upload stores a device's keys and returns its count of unclaimed
// one-time keys per algorithm. New or changed device keys are a device list
// change that room mates' clients learn of through /sync.
//
// Everything is checked before anything is stored, so a refused upload
// changes nothing (ErrBadKeys): device keys must be this device's and signed
// by their own ed25519 key; signed_curve25519 one-time and fallback keys
// must be signed by the device's ed25519 key, from this upload or stored.
func (k *Keys) Upload(ctx context.Context, user spec.UserID, deviceID string, up Upload) (map[string]int, error) {
	uid := user.String()
	newDeviceKeys := len(up.DeviceKeys) > 0 && string(up.DeviceKeys) != "null"
	if newDeviceKeys {
		if err := VerifyDeviceKeys(uid, deviceID, up.DeviceKeys); err != nil {
			return nil, err
		}
	}
	var pos int64
	defer k.keyCountsChanged()
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		var old []byte
		err := tx.QueryRowContext(ctx, `SELECT json FROM device_keys WHERE user_id = ? AND device_id = ?`, uid, deviceID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("load device keys: %w", err)
		}
		signing := json.RawMessage(old)
		if newDeviceKeys {
			signing = up.DeviceKeys
		}
		for _, list := range []KeyList{up.OneTimeKeys, up.FallbackKeys} {
			for _, e := range list {
				if err := verifySignedKey(uid, deviceID, signing, e); err != nil {
					return err
				}
			}
		}
		if newDeviceKeys {
			if string(old) != string(up.DeviceKeys) {
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO device_keys (user_id, device_id, json) VALUES (?, ?, ?)
					 ON CONFLICT (user_id, device_id) DO UPDATE SET json = excluded.json`, uid, deviceID, []byte(up.DeviceKeys)); err != nil {
					return fmt.Errorf("store device keys: %w", err)
				}
				if pos, err = keyChanged(ctx, tx, uid); err != nil {
					return err
				}
			}
		}
		for _, e := range up.OneTimeKeys { // rowid order is claim order
			keyID, key := e.ID, e.Key
			alg, _, _ := strings.Cut(keyID, ":")
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO one_time_keys (user_id, device_id, key_id, algorithm, json) VALUES (?, ?, ?, ?, ?)
				 ON CONFLICT DO NOTHING`, uid, deviceID, keyID, alg, []byte(key)); err != nil {
				return fmt.Errorf("store one-time key: %w", err)
			}
		}
		for _, e := range up.FallbackKeys {
			keyID, key := e.ID, e.Key
			alg, _, _ := strings.Cut(keyID, ":")
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, json, used) VALUES (?, ?, ?, ?, ?, 0)
				 ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, json = excluded.json, used = 0`,
				uid, deviceID, alg, keyID, []byte(key)); err != nil {
				return fmt.Errorf("store fallback key: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pos > 0 {
		k.opts.DataAdvanced(pos)
		if k.opts.DeviceChanged != nil {
			k.opts.DeviceChanged(user, deviceID, up.DeviceKeys)
		}
	}
	counts, _, err := k.Counts(ctx, user, deviceID)
	return counts, err
}

// keyChanged records that a user's device list changed, at a new data position.
func keyChanged(ctx context.Context, tx *sql.Tx, uid string) (int64, error) {
	pos, err := storage.NextDataPos(ctx, tx, "key_change")
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO key_changes (user_id, stream_pos) VALUES (?, ?)`, uid, pos); err != nil {
		return 0, fmt.Errorf("record key change: %w", err)
	}
	return pos, nil
}

// DeviceListChanged records a device list change of any user: federation
// calls it for m.device_list_update EDUs, the client API when a device is deleted.
func (k *Keys) DeviceListChanged(ctx context.Context, user spec.UserID) error {
	var pos int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		pos, err = keyChanged(ctx, tx, user.String())
		return err
	})
	if err == nil {
		k.opts.DataAdvanced(pos)
	}
	return err
}

// DeleteDevice forgets a deleted device's keys and pending messages.
func (k *Keys) DeleteDevice(ctx context.Context, user spec.UserID, deviceID string) error {
	var pos int64
	defer k.keyCountsChanged()
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"device_keys", "one_time_keys", "fallback_keys", "to_device"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = ? AND device_id = ?`, user.String(), deviceID); err != nil {
				return fmt.Errorf("delete %s of %s: %w", table, deviceID, err)
			}
		}
		var err error
		pos, err = keyChanged(ctx, tx, user.String())
		return err
	})
	if err == nil {
		k.opts.DataAdvanced(pos)
		if k.opts.DeviceChanged != nil {
			k.opts.DeviceChanged(user, deviceID, nil)
		}
	}
	return err
}

// Counts returns a device's unclaimed one-time keys per algorithm and the
// algorithms of its unused fallback keys.
func (k *Keys) Counts(ctx context.Context, user spec.UserID, deviceID string) (map[string]int, []string, error) {
	rows, err := k.db.Query(ctx, keyCountsSQL, user.String(), deviceID, user.String(), deviceID)
	if err != nil {
		return nil, nil, fmt.Errorf("count one-time and fallback keys: %w", err)
	}
	var d DeviceSync
	if _, err := d.scan(rows); err != nil {
		return nil, nil, fmt.Errorf("count one-time and fallback keys: %w", err)
	}
	return d.OTKCounts, d.FallbackKeyTypes, nil
}

// keyCountsSQL reads a device's key counts as rows of DeviceSync.scan; its
// parameters are (user, device) twice.
const keyCountsSQL = `SELECT 'one-time', 0, NULL, algorithm, COUNT(*) FROM one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm
	UNION ALL
	SELECT 'fallback', 0, NULL, algorithm, 0 FROM fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0`

// QueryResult is the body of a /keys/query answer.
type QueryResult struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	Failures        map[string]any                        `json:"failures"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
}

// Query returns, for requester, the device and cross-signing keys of users
// (user ID → device IDs, empty for all devices); other servers' users go
// through QueryRemote.
func (k *Keys) Query(ctx context.Context, requester spec.UserID, users map[string][]string) (QueryResult, error) {
	res := QueryResult{
		DeviceKeys: map[string]map[string]json.RawMessage{}, Failures: map[string]any{},
		MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{}, UserSigningKeys: map[string]json.RawMessage{},
	}
	remote := map[spec.ServerName]map[string][]string{}
	for uid, devices := range users {
		u, err := spec.NewUserID(uid, true)
		if err != nil {
			continue
		}
		if u.Domain() != k.server {
			if remote[u.Domain()] == nil {
				remote[u.Domain()] = map[string][]string{}
			}
			remote[u.Domain()][uid] = devices
			continue
		}
		keys, err := k.localDeviceKeys(ctx, uid, devices)
		if err != nil {
			return res, err
		}
		res.DeviceKeys[uid] = keys
		if err := k.crossSigningFor(ctx, &res, requester.String(), uid); err != nil {
			return res, err
		}
	}
	for server, us := range remote {
		if k.opts.QueryRemote == nil {
			res.Failures[string(server)] = map[string]string{"errcode": "M_UNKNOWN", "error": ErrNoFederation.Error()}
			continue
		}
		got, err := k.opts.QueryRemote(ctx, server, us)
		if err != nil {
			res.Failures[string(server)] = map[string]string{"errcode": "M_UNKNOWN", "error": err.Error()}
			continue
		}
		k.checkRemote(server, us, got, &res)
	}
	return res, nil
}

// checkRemote copies into res what server answered for its users' keys,
// dropping what the spec says to ignore ("Downloading keys"): users not of
// that server or not asked for, and device keys whose user_id or device_id
// differ from where they sit or that are not signed by their own ed25519
// key. Cross-signing keys pass through for users of server: clients check
// their signatures against each other.
func (k *Keys) checkRemote(server spec.ServerName, asked map[string][]string, got QueryResult, res *QueryResult) {
	for uid, devices := range got.DeviceKeys {
		if _, ok := asked[uid]; !ok || !ofServer(uid, server) {
			continue
		}
		good := map[string]json.RawMessage{}
		for deviceID, raw := range devices {
			if err := VerifyDeviceKeys(uid, deviceID, raw); err != nil {
				log.WithError(err).WithField("server", server).Warn("dropping remote device keys")
				continue
			}
			good[deviceID] = raw
		}
		res.DeviceKeys[uid] = good
	}
	for uid, raw := range got.MasterKeys {
		if _, ok := asked[uid]; ok && ofServer(uid, server) {
			res.MasterKeys[uid] = raw
		}
	}
	for uid, raw := range got.SelfSigningKeys {
		if _, ok := asked[uid]; ok && ofServer(uid, server) {
			res.SelfSigningKeys[uid] = raw
		}
	}
}

func ofServer(uid string, server spec.ServerName) bool {
	u, err := spec.NewUserID(uid, true)
	return err == nil && u.Domain() == server
}

// VerifyDeviceKeys checks a device keys object as it sits in a key query
// answer under user ID uid and device deviceID: its user_id and device_id
// are those, and it is signed by the device's own ed25519 key
// (client-server API, "Device keys": signatures[user_id]["ed25519:"+device_id]).
func VerifyDeviceKeys(uid, deviceID string, raw json.RawMessage) error {
	var dk struct {
		UserID   string            `json:"user_id"`
		DeviceID string            `json:"device_id"`
		Keys     map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &dk); err != nil {
		return fmt.Errorf("%w: device keys of %s %s: %v", ErrBadKeys, uid, deviceID, err)
	}
	if dk.UserID != uid || dk.DeviceID != deviceID {
		return fmt.Errorf("%w: device keys under %s %s are for %s %s", ErrBadKeys, uid, deviceID, dk.UserID, dk.DeviceID)
	}
	keyID := "ed25519:" + deviceID
	pub, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(dk.Keys[keyID], "="))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: device %s of %s has no valid %s key", ErrBadKeys, deviceID, uid, keyID)
	}
	if err := gomatrixserverlib.VerifyJSON(uid, gomatrixserverlib.KeyID(keyID), ed25519.PublicKey(pub), raw); err != nil {
		return fmt.Errorf("%w: device keys of %s %s: %v", ErrBadKeys, uid, deviceID, err)
	}
	return nil
}

// verifySignedKey checks a one-time or fallback key of an upload: its ID is
// "algorithm:id", and a signed_curve25519 key (client-server API, "Key
// algorithms") carries a signature by the device's ed25519 key, taken from
// deviceKeys (the device's keys object; empty when it has none, and then a
// signed key cannot be believed). Other algorithms are stored as given.
func verifySignedKey(uid, deviceID string, deviceKeys json.RawMessage, e KeyEntry) error {
	alg, id, ok := strings.Cut(e.ID, ":")
	if !ok || alg == "" || id == "" {
		return fmt.Errorf("%w: key ID %q is not algorithm:id", ErrBadKeys, e.ID)
	}
	if alg != "signed_curve25519" {
		return nil
	}
	var dk struct {
		Keys map[string]string `json:"keys"`
	}
	keyID := "ed25519:" + deviceID
	if len(deviceKeys) > 0 {
		_ = json.Unmarshal(deviceKeys, &dk) // stored or already verified keys
	}
	pub, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(dk.Keys[keyID], "="))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %s is signed but device %s has no %s key to check it with", ErrBadKeys, e.ID, deviceID, keyID)
	}
	if err := gomatrixserverlib.VerifyJSON(uid, gomatrixserverlib.KeyID(keyID), ed25519.PublicKey(pub), e.Key); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadKeys, e.ID, err)
	}
	return nil
}

func (k *Keys) localDeviceKeys(ctx context.Context, uid string, devices []string) (map[string]json.RawMessage, error) {
	rows, err := k.db.Query(ctx, `SELECT device_id, json FROM device_keys WHERE user_id = ?`, uid)
	if err != nil {
		return nil, fmt.Errorf("load device keys of %s: %w", uid, err)
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, d := range devices {
		want[d] = true
	}
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var deviceID string
		var raw []byte
		if err := rows.Scan(&deviceID, &raw); err != nil {
			return nil, fmt.Errorf("load device keys of %s: %w", uid, err)
		}
		if len(want) == 0 || want[deviceID] {
			out[deviceID] = raw
		}
	}
	return out, rows.Err()
}

// Claim takes one one-time key (else the fallback key) per requested device:
// user → device → algorithm in, user → device → key ID → key out. Other
// servers' users go through ClaimRemote; failures are per server.
func (k *Keys) Claim(ctx context.Context, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, map[string]any, error) {
	out := map[string]map[string]map[string]json.RawMessage{}
	failures := map[string]any{}
	remote := map[spec.ServerName]map[string]map[string]string{}
	defer k.keyCountsChanged()
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		for uid, devices := range claims {
			u, err := spec.NewUserID(uid, true)
			if err != nil {
				continue
			}
			if u.Domain() != k.server {
				if remote[u.Domain()] == nil {
					remote[u.Domain()] = map[string]map[string]string{}
				}
				remote[u.Domain()][uid] = devices
				continue
			}
			for deviceID, alg := range devices {
				keyID, key, err := claimOne(ctx, tx, uid, deviceID, alg)
				if err != nil {
					return err
				}
				if key == nil {
					continue
				}
				if out[uid] == nil {
					out[uid] = map[string]map[string]json.RawMessage{}
				}
				out[uid][deviceID] = map[string]json.RawMessage{keyID: key}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for server, c := range remote {
		if k.opts.ClaimRemote == nil {
			failures[string(server)] = map[string]string{"errcode": "M_UNKNOWN", "error": ErrNoFederation.Error()}
			continue
		}
		got, err := k.opts.ClaimRemote(ctx, server, c)
		if err != nil {
			failures[string(server)] = map[string]string{"errcode": "M_UNKNOWN", "error": err.Error()}
			continue
		}
		for uid, d := range got {
			if _, asked := c[uid]; asked && ofServer(uid, server) {
				out[uid] = d
			}
		}
	}
	return out, failures, nil
}

// claimOne removes and returns one one-time key, or marks the fallback key
// used and returns it; a nil key means the device has neither.
func claimOne(ctx context.Context, tx *sql.Tx, uid, deviceID, alg string) (string, json.RawMessage, error) {
	var keyID string
	var raw []byte
	err := tx.QueryRowContext(ctx,
		`SELECT key_id, json FROM one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY rowid LIMIT 1`, // the oldest upload first
		uid, deviceID, alg).Scan(&keyID, &raw)
	if err == nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM one_time_keys WHERE user_id = ? AND device_id = ? AND key_id = ?`,
			uid, deviceID, keyID); err != nil {
			return "", nil, fmt.Errorf("claim one-time key: %w", err)
		}
		return keyID, raw, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("claim one-time key: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT key_id, json FROM fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?`,
		uid, deviceID, alg).Scan(&keyID, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("claim fallback key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?`,
		uid, deviceID, alg); err != nil {
		return "", nil, fmt.Errorf("claim fallback key: %w", err)
	}
	return keyID, raw, nil
}

// Changes returns the users whose device lists changed in (after, upTo] of
// the data stream, sorted.
func (k *Keys) Changes(ctx context.Context, after, upTo int64) ([]string, error) {
	if after >= upTo { // an empty range: a sync woken by new events asks it every time
		return nil, nil
	}
	rows, err := k.db.Query(ctx, `SELECT DISTINCT user_id FROM key_changes WHERE stream_pos > ? AND stream_pos <= ?`, after, upTo)
	if err != nil {
		return nil, fmt.Errorf("load key changes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("load key changes: %w", err)
		}
		out = append(out, uid)
	}
	sort.Strings(out)
	return out, rows.Err()
}
