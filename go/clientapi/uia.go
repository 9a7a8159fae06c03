package clientapi

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"hearth/go/account"
	"hearth/go/errcode"
)

// User-interactive authentication (client-server API, "User-interactive
// authentication API"). Each of Hearth's flows has one stage, so a request
// either completes it or gets the 401 that asks for it; the session is
// echoed for clients that track it but holds no state.
const (
	// stageDummy: registration when it is open.
	stageDummy = "m.login.dummy"
	// stagePassword: whatever could lock the owner out or let a stolen access
	// token take the account: deleting devices, changing the password, deactivating.
	stagePassword = "m.login.password"
	// stageRegistrationToken: registration when the operator set a token
	// (spec 1.2, "Token-authenticated registration").
	stageRegistrationToken = "m.login.registration_token"
)

// authDict is the auth object of a request behind UIA.
type authDict struct {
	Type       string `json:"type"`
	Session    string `json:"session"`
	Identifier struct {
		Type string `json:"type"`
		User string `json:"user"`
	} `json:"identifier"`
	User     string `json:"user"` // deprecated form of identifier
	Password string `json:"password"`
	Token    string `json:"token"`
}

// uiaChallenge is the 401 asking for stage. failure, when not nil, says why
// the attempt in auth was refused; it goes into the same body.
func uiaChallenge(stage string, auth *authDict, failure *errcode.Error) withStatus {
	session := randomSession()
	if auth != nil && auth.Session != "" {
		session = auth.Session
	}
	body := map[string]any{
		"flows":   []map[string]any{{"stages": []string{stage}}},
		"params":  map[string]any{},
		"session": session,
	}
	if failure != nil {
		body["errcode"], body["error"] = failure.ErrCode, failure.Message
	}
	return withStatus{http.StatusUnauthorized, body}
}

// requirePassword completes the m.login.password stage for the request's own
// user. It returns nil when done, else the challenge to answer with.
func (a *API) requirePassword(req *request, auth *authDict) (challenge any, err error) {
	if auth == nil || auth.Type != stagePassword {
		return uiaChallenge(stagePassword, auth, nil), nil
	}
	user := auth.Identifier.User
	if user == "" {
		user = auth.User
	}
	if user != "" {
		if local, err := a.localpart(user); err != nil || local != req.device.Localpart() {
			return uiaChallenge(stagePassword, auth, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "the password must be your own")), nil
		}
	}
	err = a.accounts.CheckPassword(req.ctx(), req.device.Localpart(), auth.Password)
	if errors.Is(err, account.ErrWrongLogin) {
		return uiaChallenge(stagePassword, auth, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "wrong password")), nil
	}
	return nil, err
}

// requireDummy completes the m.login.dummy stage: for uploading cross-signing
// keys, where the stage only keeps the shape clients expect.
func requireDummy(auth *authDict) (challenge any) {
	if auth != nil && auth.Type == stageDummy {
		return nil
	}
	return uiaChallenge(stageDummy, auth, nil)
}

// registrationStage is the one stage registration asks for.
func (a *API) registrationStage() string {
	if a.policy.RegistrationToken != "" {
		return stageRegistrationToken
	}
	return stageDummy
}

// registrationAuthorised reports whether auth completes registrationStage.
func (a *API) registrationAuthorised(auth *authDict) bool {
	if auth == nil || auth.Type != a.registrationStage() {
		return false
	}
	if auth.Type == stageDummy {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(auth.Token), []byte(a.policy.RegistrationToken)) == 1
}
