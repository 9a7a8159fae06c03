package federation

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/keys"
)

// End-to-end encryption keys across servers (server-server API,
// "End-to-End Encryption"): another server's clients query device keys and
// claim one-time keys of this server's users. Only users of this server are
// answered for, so a query can never bounce on to a third server.

// keyQuery is the body of POST /_matrix/federation/v1/user/keys/query.
type keyQuery struct {
	DeviceKeys map[string][]string `json:"device_keys"`
}

// keyClaim is the body of POST /_matrix/federation/v1/user/keys/claim.
type keyClaim struct {
	OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
}

// keyClaimAnswer is its answer.
type keyClaimAnswer struct {
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
}

func (f *Federation) userKeysQuery(req *request) (any, error) {
	if f.opts.Keys == nil {
		return nil, errcode.New(http.StatusNotFound, "M_UNRECOGNIZED", "this server keeps no keys")
	}
	var q keyQuery
	if err := req.readContent(&q); err != nil {
		return nil, err
	}
	local := map[string][]string{}
	for uid, devices := range q.DeviceKeys {
		if f.isLocalUser(uid) {
			local[uid] = devices
		}
	}
	// No requesting user of this server: user-signing keys stay private.
	res, err := f.opts.Keys.Query(req.ctx(), spec.UserID{}, local)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"device_keys": res.DeviceKeys, "master_keys": res.MasterKeys, "self_signing_keys": res.SelfSigningKeys,
	}, nil
}

func (f *Federation) userKeysClaim(req *request) (any, error) {
	if f.opts.Keys == nil {
		return nil, errcode.New(http.StatusNotFound, "M_UNRECOGNIZED", "this server keeps no keys")
	}
	var c keyClaim
	if err := req.readContent(&c); err != nil {
		return nil, err
	}
	local := map[string]map[string]string{}
	for uid, devices := range c.OneTimeKeys {
		if f.isLocalUser(uid) {
			local[uid] = devices
		}
	}
	claimed, _, err := f.opts.Keys.Claim(req.ctx(), local)
	if err != nil {
		return nil, err
	}
	return keyClaimAnswer{OneTimeKeys: claimed}, nil
}

func (f *Federation) isLocalUser(uid string) bool {
	u, err := spec.NewUserID(uid, true)
	return err == nil && u.Domain() == f.id.ServerName
}

// QueryKeys asks server for its users' device and cross-signing keys
// (keys.Options.QueryRemote): user ID → device IDs (empty: all).
func (c *Client) QueryKeys(ctx context.Context, server spec.ServerName, users map[string][]string) (keys.QueryResult, error) {
	var res keys.QueryResult
	err := c.do(ctx, server, "POST", "/_matrix/federation/v1/user/keys/query", nil, keyQuery{DeviceKeys: users}, &res)
	return res, err
}

// ClaimKeys claims one-time keys of server's users (keys.Options.ClaimRemote):
// user → device → algorithm in, user → device → key ID → key out.
func (c *Client) ClaimKeys(ctx context.Context, server spec.ServerName, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	var res keyClaimAnswer
	err := c.do(ctx, server, "POST", "/_matrix/federation/v1/user/keys/claim", nil, keyClaim{OneTimeKeys: claims}, &res)
	return res.OneTimeKeys, err
}
