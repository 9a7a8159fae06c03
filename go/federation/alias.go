package federation

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Room aliases across servers (server-server API, "Querying for
// information": query/directory). An alias names the server that resolves
// it; this server answers for its own (Options.LocalAlias) and asks the
// alias's server for the others.

// aliasAnswer is the answer to query/directory.
type aliasAnswer struct {
	RoomID  string            `json:"room_id"`
	Servers []spec.ServerName `json:"servers"`
}

func (f *Federation) queryDirectory(req *request) (any, error) {
	alias := req.URL.Query().Get("room_alias")
	_, server, err := gomatrixserverlib.SplitID('#', alias)
	if err != nil {
		return nil, fmt.Errorf("%w: room_alias %q", ErrBadRequest, alias)
	}
	if server != f.id.ServerName {
		return nil, fmt.Errorf("%w: %s is not an alias of this server", ErrAliasNotFound, alias)
	}
	return f.resolveLocal(req.ctx(), alias)
}

// resolveLocal resolves an alias of this server, with the servers to join
// through: this one first, then the others in the room.
func (f *Federation) resolveLocal(ctx context.Context, alias string) (aliasAnswer, error) {
	roomID, found, err := f.opts.LocalAlias(ctx, alias)
	if err != nil {
		return aliasAnswer{}, err
	}
	if !found {
		return aliasAnswer{}, fmt.Errorf("%w: %s", ErrAliasNotFound, alias)
	}
	servers := []spec.ServerName{f.id.ServerName}
	if joined, err := f.rooms.Query.JoinedServers(ctx, roomID); err == nil {
		for _, s := range joined {
			if !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
	}
	return aliasAnswer{RoomID: roomID, Servers: servers}, nil
}

// ResolveAlias returns the room an alias points at and servers to join it
// through: from the local alias table for an alias of this server, else
// from the alias's server. ErrAliasNotFound if there is no such alias.
func (f *Federation) ResolveAlias(ctx context.Context, alias string) (string, []spec.ServerName, error) {
	_, server, err := gomatrixserverlib.SplitID('#', alias)
	if err != nil {
		return "", nil, fmt.Errorf("%w: room alias %q", ErrBadRequest, alias)
	}
	if server == f.id.ServerName {
		a, err := f.resolveLocal(ctx, alias)
		return a.RoomID, a.Servers, err
	}
	var a aliasAnswer
	err = f.client.do(ctx, server, "GET", "/_matrix/federation/v1/query/directory", url.Values{"room_alias": {alias}}, nil, &a)
	if re, ok := err.(*RemoteError); ok && re.Status == http.StatusNotFound {
		return "", nil, fmt.Errorf("%w: %s (%s)", ErrAliasNotFound, alias, re.Message)
	}
	if err != nil {
		return "", nil, fmt.Errorf("resolve %s: %w", alias, err)
	}
	if _, err := spec.NewRoomID(a.RoomID); err != nil {
		return "", nil, fmt.Errorf("%w: %s resolved %s to %q", ErrBadEvent, server, alias, a.RoomID)
	}
	// The alias's server vouches for the room; it comes first.
	return a.RoomID, f.candidates(append([]spec.ServerName{server}, a.Servers...)), nil
}
