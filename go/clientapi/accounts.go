package clientapi

import (
	"net/http"
	"strings"

	"hearth/go/account"
	"hearth/go/errcode"
)

type registerRequest struct {
	Username                 string    `json:"username"`
	Password                 string    `json:"password"`
	DeviceID                 string    `json:"device_id"`
	InitialDeviceDisplayName string    `json:"initial_device_display_name"`
	InhibitLogin             bool      `json:"inhibit_login"`
	Auth                     *authDict `json:"auth"`
}

func (a *API) register(req *request) (any, error) {
	if kind := req.URL.Query().Get("kind"); kind != "" && kind != "user" {
		return nil, errcode.New(http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN", "guest accounts are not supported")
	}
	var body registerRequest
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	// Check the name before asking for auth, so clients learn early (as Synapse does).
	if body.Username != "" {
		if err := a.accounts.Available(req.ctx(), strings.ToLower(body.Username)); err != nil {
			return nil, err
		}
	}
	if body.Auth == nil {
		return uiaChallenge(a.registrationStage(), nil, nil), nil
	}
	// Every attempt counts, refused ones too: guessing the token is bounded.
	if err := a.registrations.check(req.Request, "registrations"); err != nil {
		return nil, err
	}
	if !a.registrationAuthorised(body.Auth) {
		failure := errcode.New(http.StatusUnauthorized, "M_UNAUTHORIZED", "registration needs the "+a.registrationStage()+" stage")
		if body.Auth.Type == stageRegistrationToken {
			failure = errcode.New(http.StatusUnauthorized, "M_FORBIDDEN", "wrong registration token")
		}
		return uiaChallenge(a.registrationStage(), body.Auth, failure), nil
	}
	localpart := strings.ToLower(body.Username)
	if localpart == "" {
		localpart = "user" + strings.ToLower(randomSession()[:8])
	}
	dev, err := a.accounts.Register(req.ctx(), localpart, body.Password, body.DeviceID, body.InitialDeviceDisplayName)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"user_id": dev.UserID.String(), "home_server": string(a.server)}
	if body.InhibitLogin {
		if err := a.accounts.Logout(req.ctx(), dev.AccessToken); err != nil {
			return nil, err
		}
		return resp, nil
	}
	resp["access_token"] = dev.AccessToken
	resp["device_id"] = dev.DeviceID
	return resp, nil
}

func (a *API) usernameAvailable(req *request) (any, error) {
	if err := a.accounts.Available(req.ctx(), req.URL.Query().Get("username")); err != nil {
		return nil, err
	}
	return map[string]bool{"available": true}, nil
}

func (a *API) loginFlows(*request) (any, error) {
	return map[string]any{"flows": []map[string]string{{"type": "m.login.password"}}}, nil
}

type loginRequest struct {
	Type       string `json:"type"`
	Identifier struct {
		Type string `json:"type"`
		User string `json:"user"`
	} `json:"identifier"`
	User                     string `json:"user"` // deprecated form of identifier
	Password                 string `json:"password"`
	DeviceID                 string `json:"device_id"`
	InitialDeviceDisplayName string `json:"initial_device_display_name"`
}

func (a *API) login(req *request) (any, error) {
	var body loginRequest
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if body.Type != "m.login.password" {
		return nil, errcode.New(http.StatusBadRequest, "M_UNKNOWN", "unsupported login type "+body.Type)
	}
	user := body.Identifier.User
	if body.Identifier.Type != "" && body.Identifier.Type != "m.id.user" {
		return nil, errcode.New(http.StatusBadRequest, "M_UNKNOWN", "unsupported identifier type "+body.Identifier.Type)
	}
	if user == "" {
		user = body.User
	}
	localpart, err := a.localpart(user)
	if err != nil {
		return nil, err
	}
	dev, err := a.accounts.Login(req.ctx(), localpart, body.Password, body.DeviceID, body.InitialDeviceDisplayName)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"user_id": dev.UserID.String(), "access_token": dev.AccessToken,
		"device_id": dev.DeviceID, "home_server": string(a.server),
	}, nil
}

// localpart accepts a bare localpart or a full user ID of this server.
func (a *API) localpart(user string) (string, error) {
	if !strings.HasPrefix(user, "@") {
		return strings.ToLower(user), nil
	}
	local, server, ok := strings.Cut(user[1:], ":")
	if !ok || server != string(a.server) {
		return "", account.ErrWrongLogin
	}
	return strings.ToLower(local), nil
}

func (a *API) whoami(req *request) (any, error) {
	return map[string]any{"user_id": req.device.UserID.String(), "device_id": req.device.DeviceID, "is_guest": false}, nil
}

func (a *API) logout(req *request) (any, error) {
	return struct{}{}, a.accounts.Logout(req.ctx(), req.device.AccessToken)
}

// logoutAll is POST /logout/all: every access token of the user stops working,
// the one that asked included.
func (a *API) logoutAll(req *request) (any, error) {
	return struct{}{}, a.accounts.LogoutAll(req.ctx(), req.device.UserID)
}
