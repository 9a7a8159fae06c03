package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Reading what a room shows to those not in it: the public room directory and stripped state.

// StrippedState returns the public-facing state events sent along with an
// invite (client-server API, "Stripped state").
func (r *Queryer) StrippedState(ctx context.Context, roomID string) ([]gomatrixserverlib.PDU, error) {
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var out []gomatrixserverlib.PDU
	for _, t := range strippedStateTypes {
		ev, err := stateEvent(ctx, reader{r.db}, v, roomID, t, "")
		if errors.Is(err, ErrEventNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// RemoteInviteState returns the stripped state another server sent with an
// invite of user to a room this server is not in (a JSON array), if any.
func (r *Queryer) RemoteInviteState(ctx context.Context, roomID string, user spec.UserID) (json.RawMessage, bool, error) {
	var raw []byte
	err := r.db.QueryRow(ctx, `SELECT events FROM invite_state WHERE room_id = ? AND user_id = ?`, roomID, user.String()).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load invite state: %w", err)
	}
	return raw, true, nil
}

// PublicRoom is one entry of the public room directory.
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule"`
	AvatarURL        string `json:"avatar_url,omitempty"`
}

// PublicRooms lists the rooms published in this server's directory that it
// is still in, most members first.
func (r *Queryer) PublicRooms(ctx context.Context) ([]PublicRoom, error) {
	rows, err := r.db.Query(ctx, `SELECT room_id FROM published_rooms`)
	if err != nil {
		return nil, fmt.Errorf("load published rooms: %w", err)
	}
	var published []string
	for rows.Next() {
		var roomID string
		if err := rows.Scan(&roomID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load published rooms: %w", err)
		}
		published = append(published, roomID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load published rooms: %w", err)
	}
	out := []PublicRoom{}
	for _, roomID := range published {
		resident, err := r.Resident(ctx, roomID)
		if err != nil {
			return nil, err
		}
		if !resident {
			continue
		}
		pr, err := r.publicRoom(ctx, roomID)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b PublicRoom) int {
		if a.NumJoinedMembers != b.NumJoinedMembers {
			return b.NumJoinedMembers - a.NumJoinedMembers
		}
		return strings.Compare(a.RoomID, b.RoomID)
	})
	return out, nil
}

func (r *Queryer) publicRoom(ctx context.Context, roomID string) (PublicRoom, error) {
	pr := PublicRoom{RoomID: roomID}
	if err := r.db.QueryRow(ctx,
		`SELECT COUNT(*) FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`,
		roomID).Scan(&pr.NumJoinedMembers); err != nil {
		return pr, fmt.Errorf("count members: %w", err)
	}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return pr, err
	}
	field := func(evType, key string) string {
		ev, err := stateEvent(ctx, reader{r.db}, v, roomID, evType, "")
		if err != nil {
			return ""
		}
		var content map[string]any
		if json.Unmarshal(ev.Content(), &content) != nil {
			return ""
		}
		s, _ := content[key].(string)
		return s
	}
	pr.Name = field(spec.MRoomName, "name")
	pr.Topic = field(spec.MRoomTopic, "topic")
	pr.CanonicalAlias = field("m.room.canonical_alias", "alias")
	pr.WorldReadable = field(spec.MRoomHistoryVisibility, "history_visibility") == "world_readable"
	pr.GuestCanJoin = field("m.room.guest_access", "guest_access") == "can_join"
	pr.JoinRule = field(spec.MRoomJoinRules, "join_rule")
	pr.AvatarURL = field(spec.MRoomAvatar, "url")
	return pr, nil
}

// DirectoryVisibility returns a room's visibility in the directory;
// ErrRoomNotFound for a room this server does not know.
func (r *Queryer) DirectoryVisibility(ctx context.Context, roomID string) (string, error) {
	if _, err := r.committedRoomVersion(ctx, roomID); err != nil {
		return "", err
	}
	var published bool
	if err := r.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM published_rooms WHERE room_id = ?)`, roomID).Scan(&published); err != nil {
		return "", fmt.Errorf("look up directory visibility of %s: %w", roomID, err)
	}
	if published {
		return DirectoryPublic, nil
	}
	return DirectoryPrivate, nil
}
