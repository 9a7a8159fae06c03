package clientapi

import (
	"net/http"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/account"
	"hearth/go/errcode"
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
		return u, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "cannot act for another user")
	}
	return u, nil
}

func (a *API) profile(req *request) (account.Profile, error) {
	u, err := pathUser(req)
	if err != nil {
		return account.Profile{}, err
	}
	if u.Domain() != a.server {
		return a.fed.QueryProfile(req.ctx(), u)
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
	if err := a.perform.UpdateProfile(req.ctx(), u); err != nil {
		log.WithError(err).Warn("profile change not sent to every room")
	}
	return struct{}{}, nil
}

// maxDirectoryResults caps a user directory search.
const maxDirectoryResults = 50

// searchUsers is the user directory (client-server API, "User directory"):
// this server's users by name, and users of other servers the caller shares
// a room with, by user ID.
func (a *API) searchUsers(req *request) (any, error) {
	var body struct {
		SearchTerm string `json:"search_term"`
		Limit      int    `json:"limit"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	limit := body.Limit
	if limit <= 0 || limit > maxDirectoryResults {
		limit = 10
	}
	local, err := a.accounts.SearchUsers(req.ctx(), body.SearchTerm, limit+1)
	if err != nil {
		return nil, err
	}
	results := []map[string]any{}
	seen := map[string]bool{}
	add := func(id, name, avatar string) {
		if seen[id] {
			return
		}
		seen[id] = true
		r := map[string]any{"user_id": id}
		if name != "" {
			r["display_name"] = name
		}
		if avatar != "" {
			r["avatar_url"] = avatar
		}
		results = append(results, r)
	}
	for _, u := range local {
		add(u.UserID, u.DisplayName, u.AvatarURL)
	}
	mates, err := a.query.RoomMates(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	term := strings.ToLower(body.SearchTerm)
	for id := range mates {
		if u, err := spec.NewUserID(id, true); err == nil && u.Domain() != a.server && strings.Contains(strings.ToLower(id), term) {
			add(id, "", "")
		}
	}
	limited := len(results) > limit
	if limited {
		results = results[:limit]
	}
	return map[string]any{"results": results, "limited": limited}, nil
}
