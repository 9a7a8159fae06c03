package clientapi

import (
	"encoding/json"

	"hearth/go/account"
)

// pushers is GET /pushers (spec 1.11, "Push Notifications").
func (a *API) pushers(req *request) (any, error) {
	ps, err := a.accounts.Pushers(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"pushers": ps}, nil
}

// setPusher is POST /pushers/set: kind null deletes the pusher of (app_id,
// pushkey); otherwise it is created or replaced, made by the calling session.
func (a *API) setPusher(req *request) (any, error) {
	raw, err := readJSONObject(req.Request)
	if err != nil {
		return nil, err
	}
	var present map[string]json.RawMessage
	_ = json.Unmarshal(raw, &present)
	for _, key := range []string{"pushkey", "app_id", "kind"} {
		if _, ok := present[key]; !ok {
			return nil, missingParam(key + " is required")
		}
	}
	// kind is shallower than the embedded Pusher's, so it is the one decoded.
	var body struct {
		account.Pusher
		Kind   *string `json:"kind"`
		Append bool    `json:"append"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, badJSON("not a pusher: " + err.Error())
	}
	if body.Kind == nil {
		return struct{}{}, a.accounts.DeletePusher(req.ctx(), req.device.UserID, body.AppID, body.PushKey)
	}
	body.Pusher.Kind = *body.Kind
	return struct{}{}, a.accounts.SetPusher(req.ctx(), req.device, body.Pusher, body.Append)
}
