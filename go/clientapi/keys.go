package clientapi

import (
	"encoding/json"
	"strings"

	"hearth/go/keys"
	"hearth/go/syncapi"
)

func (a *API) uploadKeys(req *request) (any, error) {
	var body keys.Upload
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	counts, err := a.keys.Upload(req.ctx(), req.device.UserID, req.device.DeviceID, body)
	if err != nil {
		return nil, err
	}
	return map[string]any{"one_time_key_counts": counts}, nil
}

func (a *API) queryKeys(req *request) (any, error) {
	var body struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	return a.keys.Query(req.ctx(), req.device.UserID, body.DeviceKeys)
}

func (a *API) claimKeys(req *request) (any, error) {
	var body struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	claimed, failures, err := a.keys.Claim(req.ctx(), body.OneTimeKeys)
	if err != nil {
		return nil, err
	}
	return map[string]any{"one_time_keys": claimed, "failures": failures}, nil
}

// keyChanges lists room mates whose device lists changed between two sync tokens.
func (a *API) keyChanges(req *request) (any, error) {
	q := req.URL.Query()
	from, err := syncapi.ParseToken(q.Get("from"))
	if err != nil {
		return nil, err
	}
	to, err := syncapi.ParseToken(q.Get("to"))
	if err != nil {
		return nil, err
	}
	changed, err := a.keys.Changes(req.ctx(), from.Data, to.Data)
	if err != nil {
		return nil, err
	}
	mates, err := a.query.RoomMates(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, uid := range changed {
		if mates[uid] {
			out = append(out, uid)
		}
	}
	return map[string]any{"changed": out, "left": []string{}}, nil
}

func (a *API) sendToDevice(req *request) (any, error) {
	var body struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	evType := req.PathValue("eventType")
	if strings.TrimSpace(evType) == "" {
		return nil, invalidParam("event type is required")
	}
	return struct{}{}, a.keys.SendToDevice(req.ctx(), req.device.UserID, req.device.DeviceID, req.PathValue("txnId"), evType, body.Messages)
}

// uploadCrossSigning stores the caller's cross-signing keys, behind
// user-interactive auth (the dummy stage, as for deleting devices).
func (a *API) uploadCrossSigning(req *request) (any, error) {
	var body struct {
		Auth        *authDict       `json:"auth"`
		Master      json.RawMessage `json:"master_key"`
		SelfSigning json.RawMessage `json:"self_signing_key"`
		UserSigning json.RawMessage `json:"user_signing_key"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if challenge := requireDummy(body.Auth); challenge != nil {
		return challenge, nil
	}
	upload := map[string]json.RawMessage{}
	for keyType, raw := range map[string]json.RawMessage{
		keys.MasterKey: body.Master, keys.SelfSigningKey: body.SelfSigning, keys.UserSigningKey: body.UserSigning,
	} {
		if len(raw) > 0 && string(raw) != "null" {
			upload[keyType] = raw
		}
	}
	return struct{}{}, a.keys.UploadCrossSigning(req.ctx(), req.device.UserID, upload)
}

func (a *API) uploadSignatures(req *request) (any, error) {
	var body map[string]map[string]json.RawMessage
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	failures, err := a.keys.UploadSignatures(req.ctx(), req.device.UserID, body)
	if err != nil {
		return nil, err
	}
	return map[string]any{"failures": failures}, nil
}
