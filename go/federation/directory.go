package federation

import (
	"context"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// PublicRooms is a page of a public room directory (client-server and
// server-server API, "Room directory").
type PublicRooms struct {
	Chunk                  []room.PublicRoom `json:"chunk"`
	TotalRoomCountEstimate int               `json:"total_room_count_estimate"`
}

// publicRooms answers another server with this server's public rooms.
// Paging (limit, since) is not implemented: a browser holds few rooms.
func (f *Federation) publicRooms(req *request) (any, error) {
	return f.LocalPublicRooms(req.ctx())
}

// LocalPublicRooms lists the public rooms this server is in.
func (f *Federation) LocalPublicRooms(ctx context.Context) (PublicRooms, error) {
	rooms, err := f.rooms.PublicRooms(ctx)
	if err != nil {
		return PublicRooms{}, err
	}
	return PublicRooms{Chunk: rooms, TotalRoomCountEstimate: len(rooms)}, nil
}

// RemotePublicRooms asks another server for its public rooms.
func (f *Federation) RemotePublicRooms(ctx context.Context, server spec.ServerName) (PublicRooms, error) {
	if server == f.id.ServerName {
		return f.LocalPublicRooms(ctx)
	}
	var out PublicRooms
	if err := f.client.do(ctx, server, "GET", "/_matrix/federation/v1/publicRooms", nil, nil, &out); err != nil {
		return PublicRooms{}, fmt.Errorf("public rooms of %s: %w", server, err)
	}
	if out.Chunk == nil {
		out.Chunk = []room.PublicRoom{}
	}
	return out, nil
}
