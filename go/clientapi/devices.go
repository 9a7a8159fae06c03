package clientapi

import (
	"net/http"
)

func (a *API) devices(req *request) (any, error) {
	devs, err := a.accounts.Devices(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"devices": devs}, nil
}

func (a *API) device(req *request) (any, error) {
	return a.accounts.Device(req.ctx(), req.device.UserID, req.PathValue("deviceId"))
}

func (a *API) renameDevice(req *request) (any, error) {
	var body struct {
		DisplayName string `json:"display_name"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	return struct{}{}, a.accounts.RenameDevice(req.ctx(), req.device.UserID, req.PathValue("deviceId"), body.DisplayName)
}

// uiaBody is the auth part of a request behind user-interactive auth.
type uiaBody struct {
	Auth *struct {
		Type    string `json:"type"`
		Session string `json:"session"`
	} `json:"auth"`
	Devices []string `json:"devices"`
}

// needAuth answers 401 with the one m.login.dummy flow, unless the body
// completes it. Deleting devices is behind UIA in the spec; the dummy stage
// keeps the shape clients expect (a password stage would need re-entry UI).
func needAuth(body uiaBody) (any, bool) {
	if body.Auth != nil && body.Auth.Type == stageDummy {
		return nil, false
	}
	return withStatus{http.StatusUnauthorized, map[string]any{
		"flows":   []map[string]any{{"stages": []string{stageDummy}}},
		"params":  map[string]any{},
		"session": randomSession(),
	}}, true
}

func (a *API) deleteDevice(req *request) (any, error) {
	var body uiaBody
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if challenge, ok := needAuth(body); ok {
		return challenge, nil
	}
	return struct{}{}, a.removeDevices(req, []string{req.PathValue("deviceId")})
}

func (a *API) deleteDevices(req *request) (any, error) {
	var body uiaBody
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if challenge, ok := needAuth(body); ok {
		return challenge, nil
	}
	return struct{}{}, a.removeDevices(req, body.Devices)
}

// removeDevices logs devices out and forgets their keys; room mates learn of
// the change through their device lists.
func (a *API) removeDevices(req *request, ids []string) error {
	for _, id := range ids {
		if err := a.accounts.DeleteDevice(req.ctx(), req.device.UserID, id); err != nil {
			return err
		}
		if err := a.keys.DeleteDevice(req.ctx(), req.device.UserID, id); err != nil {
			return err
		}
	}
	return nil
}
