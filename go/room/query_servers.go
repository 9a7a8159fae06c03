package room

import (
	"context"
	"fmt"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Reading which servers, and which of their users, share rooms with this one.

// JoinedServers returns the servers with a joined member in the room's
// current state, sorted.
func (r *Queryer) JoinedServers(ctx context.Context, roomID string) ([]spec.ServerName, error) {
	return r.serversOf(ctx,
		`SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`, roomID)
}

// AllJoinedServers returns the servers with a joined member in any room
// this server is in, sorted: the peers it knows through rooms.
func (r *Queryer) AllJoinedServers(ctx context.Context) ([]spec.ServerName, error) {
	return r.serversOf(ctx,
		`SELECT DISTINCT s.state_key FROM current_state s WHERE s.type = 'm.room.member' AND s.membership = 'join'
		   AND s.room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?)`,
		"%:"+string(r.identity.ServerName))
}

// SharedRooms returns the rooms where both this server and server have a
// joined member, sorted.
func (r *Queryer) SharedRooms(ctx context.Context, server spec.ServerName) ([]string, error) {
	// GLOB, not LIKE: server names (peer IDs) are case-sensitive.
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT theirs.room_id FROM current_state theirs JOIN current_state ours ON ours.room_id = theirs.room_id
		 WHERE theirs.type = 'm.room.member' AND theirs.membership = 'join' AND theirs.state_key GLOB '*:' || ?
		   AND ours.type = 'm.room.member' AND ours.membership = 'join' AND ours.state_key GLOB '*:' || ?
		 ORDER BY theirs.room_id`, string(server), string(r.identity.ServerName))
	if err != nil {
		return nil, fmt.Errorf("load rooms shared with %s: %w", server, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var roomID string
		if err := rows.Scan(&roomID); err != nil {
			return nil, fmt.Errorf("load rooms shared with %s: %w", server, err)
		}
		out = append(out, roomID)
	}
	return out, rows.Err()
}

// serversOf runs a query listing user IDs and returns their servers, sorted, once each.
func (r *Queryer) serversOf(ctx context.Context, query string, args ...any) ([]spec.ServerName, error) {
	rows, err := r.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("load joined servers: %w", err)
	}
	defer rows.Close()
	set := map[spec.ServerName]bool{}
	for rows.Next() {
		var userID string
		if err := rows.Scan(&userID); err != nil {
			return nil, fmt.Errorf("load joined servers: %w", err)
		}
		if _, server, err := gomatrixserverlib.SplitID('@', userID); err == nil {
			set[server] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load joined servers: %w", err)
	}
	out := keys(set)
	slices.Sort(out)
	return out, nil
}

// ServerJoined reports whether server has a joined member in the room: the
// condition for reading its history and state over federation.
func (r *Queryer) ServerJoined(ctx context.Context, roomID string, server spec.ServerName) (bool, error) {
	servers, err := r.JoinedServers(ctx, roomID)
	if err != nil {
		return false, err
	}
	return slices.Contains(servers, server), nil
}

// UsersOfServer returns the users of server joined to any room here: whose
// presence follows that server's reachability.
func (r *Queryer) UsersOfServer(ctx context.Context, server spec.ServerName) ([]spec.UserID, error) {
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT state_key FROM current_state WHERE type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?`,
		"%:"+string(server))
	if err != nil {
		return nil, fmt.Errorf("users of %s: %w", server, err)
	}
	defer rows.Close()
	var out []spec.UserID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("users of %s: %w", server, err)
		}
		if u, err := spec.NewUserID(id, true); err == nil && u.Domain() == server {
			out = append(out, *u)
		}
	}
	return out, rows.Err()
}

// Resident reports whether a local user is joined to the room.
func (r *Queryer) Resident(ctx context.Context, roomID string) (bool, error) {
	return r.resident(ctx, reader{r.db}, roomID)
}
