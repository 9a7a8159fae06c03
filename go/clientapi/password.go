package clientapi

import (
	"github.com/sirupsen/logrus"
)

// changePassword is POST /account/password, behind the password itself.
// Other devices are logged out unless the client asks otherwise (the spec's
// default): whoever learnt the old password loses the sessions it opened.
func (a *API) changePassword(req *request) (any, error) {
	var body struct {
		NewPassword   string    `json:"new_password"`
		LogoutDevices *bool     `json:"logout_devices"`
		Auth          *authDict `json:"auth"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if challenge, err := a.requirePassword(req, body.Auth); challenge != nil || err != nil {
		return challenge, err
	}
	logoutOthers := body.LogoutDevices == nil || *body.LogoutDevices
	if err := a.accounts.SetPassword(req.ctx(), req.device.Localpart(), body.NewPassword, logoutOthers, req.device.DeviceID); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// deactivate is POST /account/deactivate, behind the password: the account
// leaves its rooms, its devices are logged out and it can never log in again.
// Leaving is best effort (a room on an unreachable server is left as it is);
// the account ends either way.
func (a *API) deactivate(req *request) (any, error) {
	var body struct {
		Auth *authDict `json:"auth"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if challenge, err := a.requirePassword(req, body.Auth); challenge != nil || err != nil {
		return challenge, err
	}
	user := req.device.UserID
	rooms, err := a.query.JoinedRooms(req.ctx(), user)
	if err != nil {
		return nil, err
	}
	for _, roomID := range rooms {
		if err := a.fed.Leave(req.ctx(), user, roomID, "account deactivated"); err != nil {
			log.WithFields(logrus.Fields{"user": user.String(), "room": roomID}).WithError(err).Warn("deactivate: could not leave room")
		}
	}
	if err := a.accounts.Deactivate(req.ctx(), req.device.Localpart()); err != nil {
		return nil, err
	}
	// Hearth has no identity server bindings to undo.
	return map[string]string{"id_server_unbind_result": "no-support"}, nil
}
