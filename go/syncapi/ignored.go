package syncapi

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/accountdata"
)

// ignoredUserListType is the account data listing the users one ignores
// (client-server API, "Ignoring Users"): their invites are not shown.
const ignoredUserListType = "m.ignored_user_list"

// ignoredUsers returns the users user ignores; none when nothing is stored
// or the stored content is not the spec's shape.
func (s *Syncer) ignoredUsers(ctx context.Context, user spec.UserID) (map[string]bool, error) {
	if s.src.AccountData == nil {
		return map[string]bool{}, nil
	}
	raw, err := s.src.AccountData.Get(ctx, user, "", ignoredUserListType)
	if errors.Is(err, accountdata.ErrNotFound) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	var c struct {
		IgnoredUsers map[string]json.RawMessage `json:"ignored_users"`
	}
	_ = json.Unmarshal(raw, &c)
	out := make(map[string]bool, len(c.IgnoredUsers))
	for id := range c.IgnoredUsers {
		out[id] = true
	}
	return out, nil
}
