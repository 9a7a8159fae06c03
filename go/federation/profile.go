package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/account"
	"hearth/go/errcode"
)

// Profiles across servers (server-server API, "Querying for information":
// GET /_matrix/federation/v1/query/profile).

func (f *Federation) queryProfile(req *request) (any, error) {
	if f.opts.Accounts == nil {
		return nil, errcode.New(http.StatusNotFound, "M_NOT_FOUND", "this server has no users")
	}
	q := req.URL.Query()
	u, err := spec.NewUserID(q.Get("user_id"), true)
	if err != nil {
		return nil, errcode.New(http.StatusBadRequest, "M_INVALID_PARAM", "not a user ID: "+q.Get("user_id"))
	}
	if u.Domain() != f.id.ServerName {
		return nil, errcode.New(http.StatusNotFound, "M_NOT_FOUND", "user is not of this server")
	}
	p, err := f.opts.Accounts.Profile(req.ctx(), *u)
	if errors.Is(err, account.ErrUnknownUser) {
		return nil, errcode.New(http.StatusNotFound, "M_NOT_FOUND", "no such user")
	}
	if err != nil {
		return nil, err
	}
	switch q.Get("field") {
	case "":
		return p, nil
	case "displayname":
		return account.Profile{DisplayName: p.DisplayName}, nil
	case "avatar_url":
		return account.Profile{AvatarURL: p.AvatarURL}, nil
	}
	return nil, errcode.New(http.StatusBadRequest, "M_INVALID_PARAM", "unknown profile field "+q.Get("field"))
}

// QueryProfile asks user's server for the user's profile. A 404 answer is
// account.ErrUnknownUser.
func (f *Federation) QueryProfile(ctx context.Context, user spec.UserID) (account.Profile, error) {
	var p account.Profile
	err := f.client.do(ctx, user.Domain(), "GET", "/_matrix/federation/v1/query/profile", url.Values{"user_id": {user.String()}}, nil, &p)
	var re *RemoteError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return account.Profile{}, fmt.Errorf("%w: %s: %v", account.ErrUnknownUser, user.String(), err)
	}
	return p, err
}
