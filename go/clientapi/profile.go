package clientapi

import (
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/account"
)

// pathUser reads the {userId} path value.
func pathUser(req *request) (spec.UserID, error) {
	u, err := spec.NewUserID(req.PathValue("userId"), true)
	if err != nil {
		return spec.UserID{}, invalidParam("not a user ID: " + req.PathValue("userId"))
	}
	return *u, nil
}

// ownUser reads {userId} and requires it to be the caller.
func ownUser(req *request) (spec.UserID, error) {
	u, err := pathUser(req)
	if err != nil {
		return u, err
	}
	if u.String() != req.device.UserID.String() {
		return u, newError(http.StatusForbidden, "M_FORBIDDEN", "cannot act for another user")
	}
	return u, nil
}

func (a *API) profile(req *request) (account.Profile, error) {
	u, err := pathUser(req)
	if err != nil {
		return account.Profile{}, err
	}
	if u.Domain() != a.server {
		// Remote profiles are federation's (GET /_matrix/federation/v1/query/profile).
		return account.Profile{}, notFound("profiles of other servers are not fetched yet")
	}
	return a.accounts.Profile(req.ctx(), u)
}

func (a *API) getProfile(req *request) (any, error) {
	return a.profile(req)
}

func (a *API) getProfileField(req *request) (any, error) {
	p, err := a.profile(req)
	if err != nil {
		return nil, err
	}
	switch req.PathValue("field") {
	case "displayname":
		if p.DisplayName == "" {
			return struct{}{}, nil
		}
		return map[string]string{"displayname": p.DisplayName}, nil
	case "avatar_url":
		if p.AvatarURL == "" {
			return struct{}{}, nil
		}
		return map[string]string{"avatar_url": p.AvatarURL}, nil
	}
	return unrecognized(req)
}

// putProfileField changes the display name or avatar and then every joined
// room's m.room.member event, so other members see the change.
func (a *API) putProfileField(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	var body map[string]*string
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	field := req.PathValue("field")
	value := ""
	if v := body[field]; v != nil {
		value = *v
	}
	switch field {
	case "displayname":
		err = a.accounts.SetDisplayName(req.ctx(), u, value)
	case "avatar_url":
		err = a.accounts.SetAvatarURL(req.ctx(), u, value)
	default:
		return unrecognized(req)
	}
	if err != nil {
		return nil, err
	}
	if err := a.rooms.UpdateProfile(req.ctx(), u); err != nil {
		log.WithError(err).Warn("profile change not sent to every room")
	}
	return struct{}{}, nil
}
