package room

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
)

// Presets of POST /createRoom (client-server API, "Creation").
const (
	PresetPrivateChat        = "private_chat"
	PresetTrustedPrivateChat = "trusted_private_chat"
	PresetPublicChat         = "public_chat"
)

// StateEvent is one entry of createRoom's initial_state.
type StateEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// CreateRequest is the body of POST /createRoom.
type CreateRequest struct {
	Name                      string          `json:"name,omitempty"`
	Topic                     string          `json:"topic,omitempty"`
	Preset                    string          `json:"preset,omitempty"`
	Visibility                string          `json:"visibility,omitempty"` // public or private
	Invite                    []string        `json:"invite,omitempty"`
	RoomVersion               string          `json:"room_version,omitempty"`
	IsDirect                  bool            `json:"is_direct,omitempty"`
	CreationContent           json.RawMessage `json:"creation_content,omitempty"`
	InitialState              []StateEvent    `json:"initial_state,omitempty"`
	PowerLevelContentOverride json.RawMessage `json:"power_level_content_override,omitempty"`
	// RoomAliasName is the localpart of an alias of this server to create
	// with the room and make its canonical alias.
	RoomAliasName string `json:"room_alias_name,omitempty"`
}

// Create makes a new room with creator joined, following the event order of
// the createRoom spec: create, creator's join, power levels, preset state,
// initial_state, name, topic, invites. It is one transaction: all or nothing.
func (r *Performer) Create(ctx context.Context, creator spec.UserID, req CreateRequest) (string, error) {
	plan, err := r.planCreate(creator, req)
	if err != nil {
		return "", err
	}
	var roomID string
	err = r.write(ctx, func(w *writeTx) error {
		roomID, err = r.createIn(ctx, w, plan)
		return err
	})
	if err != nil {
		return "", err
	}
	log.WithField("room_id", roomID).Info("room created")
	return roomID, nil
}

// createPlan is a room to create, checked and built from its request: the
// events in their order (the create event's room ID is final only once
// written, from version 12 on).
type createPlan struct {
	creator spec.UserID
	v       gomatrixserverlib.IRoomVersion
	roomID  string
	events  []newEvent
	alias   string // the canonical alias to insert, "" if none
	publish bool   // list it in the room directory
}

// planCreate checks a createRoom request and lists the events to write.
func (r *Performer) planCreate(creator spec.UserID, req CreateRequest) (*createPlan, error) {
	version := DefaultVersion
	if req.RoomVersion != "" {
		version = gomatrixserverlib.RoomVersion(req.RoomVersion)
	}
	v, err := gomatrixserverlib.GetRoomVersion(version)
	if err != nil || !v.Stable() || !Supported(version) {
		return nil, fmt.Errorf("%w: room version %q is not supported", ErrUnsupportedVersion, req.RoomVersion)
	}
	preset := req.Preset
	if preset == "" {
		preset = PresetPrivateChat
		if req.Visibility == DirectoryPublic {
			preset = PresetPublicChat
		}
	}
	joinRule, visibility, guestAccess := "invite", "shared", "can_join"
	switch preset {
	case PresetPrivateChat, PresetTrustedPrivateChat:
	case PresetPublicChat:
		joinRule, guestAccess = "public", "forbidden"
	default:
		return nil, fmt.Errorf("%w: unknown preset %q", ErrBadEvent, preset)
	}
	invitees := make([]spec.UserID, 0, len(req.Invite))
	for _, raw := range req.Invite {
		id, err := spec.NewUserID(raw, true)
		if err != nil {
			return nil, fmt.Errorf("%w: invite %q: %v", ErrBadEvent, raw, err)
		}
		invitees = append(invitees, *id)
	}

	createContent := map[string]any{}
	if len(req.CreationContent) > 0 {
		if err := json.Unmarshal(req.CreationContent, &createContent); err != nil {
			return nil, fmt.Errorf("%w: creation_content: %v", ErrBadEvent, err)
		}
	}
	createContent["room_version"] = string(version)
	if createNamesCreator(version) {
		createContent["creator"] = creator.String()
	}

	powerLevels := defaultPowerLevels(creator, v)
	if preset == PresetTrustedPrivateChat {
		users := powerLevels["users"].(map[string]int64)
		for _, id := range invitees {
			users[id.String()] = 100
		}
	}
	if len(req.PowerLevelContentOverride) > 0 {
		var override map[string]any
		if err := json.Unmarshal(req.PowerLevelContentOverride, &override); err != nil {
			return nil, fmt.Errorf("%w: power_level_content_override: %v", ErrBadEvent, err)
		}
		maps.Copy(powerLevels, override)
	}

	// Before version 12 the room ID names this server; from 12 on it is
	// the create event's reference hash, known once that event is built.
	roomID := "!" + randomID(r.random, 18) + ":" + string(r.identity.ServerName)
	creatorID := creator.String()
	empty := ""
	events := []newEvent{
		{Type: spec.MRoomCreate, StateKey: &empty, Content: mustJSON(createContent)},
		{Type: spec.MRoomMember, StateKey: &creatorID, Content: mustJSON(map[string]any{"membership": spec.Join})},
		{Type: spec.MRoomPowerLevels, StateKey: &empty, Content: mustJSON(powerLevels)},
		{Type: spec.MRoomJoinRules, StateKey: &empty, Content: mustJSON(map[string]any{"join_rule": joinRule})},
		{Type: spec.MRoomHistoryVisibility, StateKey: &empty, Content: mustJSON(map[string]any{"history_visibility": visibility})},
		{Type: "m.room.guest_access", StateKey: &empty, Content: mustJSON(map[string]any{"guest_access": guestAccess})},
	}
	alias := ""
	if req.RoomAliasName != "" {
		alias = "#" + req.RoomAliasName + ":" + string(r.identity.ServerName)
		if err := validAlias(alias); err != nil {
			return nil, err
		}
		events = append(events, newEvent{Type: spec.MRoomCanonicalAlias, StateKey: &empty, Content: mustJSON(map[string]any{"alias": alias})})
	}
	for _, s := range req.InitialState {
		sk := s.StateKey
		events = append(events, newEvent{Type: s.Type, StateKey: &sk, Content: s.Content})
	}
	if req.Name != "" {
		events = append(events, newEvent{Type: spec.MRoomName, StateKey: &empty, Content: mustJSON(map[string]any{"name": req.Name})})
	}
	if req.Topic != "" {
		events = append(events, newEvent{Type: spec.MRoomTopic, StateKey: &empty, Content: mustJSON(map[string]any{"topic": req.Topic})})
	}
	for _, id := range invitees {
		target := id.String()
		content := map[string]any{"membership": spec.Invite}
		if req.IsDirect {
			content["is_direct"] = true
		}
		events = append(events, newEvent{Type: spec.MRoomMember, StateKey: &target, Content: mustJSON(content)})
	}

	return &createPlan{creator: creator, v: v, roomID: roomID, events: events, alias: alias, publish: req.Visibility == DirectoryPublic}, nil
}

// createIn writes a planned room inside w and returns its ID.
func (r *Performer) createIn(ctx context.Context, w *writeTx, p *createPlan) (string, error) {
	var create gomatrixserverlib.PDU
	if p.v.DomainlessRoomIDs() {
		var err error
		if create, err = r.buildCreate(p.v, p.creator, p.events[0].Content); err != nil {
			return "", err
		}
		p.roomID = create.RoomID().String()
	}
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO rooms (room_id, room_version) VALUES (?, ?)`, p.roomID, string(p.v.Version())); err != nil {
		return "", fmt.Errorf("insert room: %w", err)
	}
	if p.alias != "" {
		if err := insertAlias(ctx, w.tx, p.alias, p.roomID, p.creator); err != nil {
			return "", err
		}
	}
	if p.publish {
		if err := setPublished(ctx, w.tx, p.roomID, true); err != nil {
			return "", err
		}
	}
	for i, ne := range p.events {
		ne.Sender = p.creator
		if i == 0 && create != nil {
			empty, err := currentGroup(ctx, w.tx, p.roomID)
			if err != nil {
				return "", fmt.Errorf("create room: %w", err)
			}
			if err := r.store(ctx, w, create, empty, nil); err != nil {
				return "", fmt.Errorf("create room: create event: %w", err)
			}
			continue
		}
		if ne.Type == spec.MRoomMember && *ne.StateKey == p.creator.String() {
			content, err := r.memberContent(ctx, w.tx, p.creator, spec.Join, nil)
			if err != nil {
				return "", err
			}
			ne.Content = mustJSON(content)
		}
		if _, err := r.appendLocal(ctx, w, p.roomID, p.v, ne); err != nil {
			return "", fmt.Errorf("create room: %s event: %w", ne.Type, err)
		}
	}
	return p.roomID, nil
}

// createNamesCreator says whether a version's create event must name its
// creator in content.creator: versions 1 to 10 (version 11 dropped the key,
// the sender being the creator).
func createNamesCreator(v gomatrixserverlib.RoomVersion) bool {
	switch v {
	case gomatrixserverlib.RoomVersionV1, gomatrixserverlib.RoomVersionV2, gomatrixserverlib.RoomVersionV3,
		gomatrixserverlib.RoomVersionV4, gomatrixserverlib.RoomVersionV5, gomatrixserverlib.RoomVersionV6,
		gomatrixserverlib.RoomVersionV7, gomatrixserverlib.RoomVersionV8, gomatrixserverlib.RoomVersionV9,
		gomatrixserverlib.RoomVersionV10:
		return true
	}
	return false
}

// buildCreate builds and signs the create event of a room of a version with
// domainless room IDs (12 on): no room_id, no prev or auth events; the room
// ID derives from its event ID.
func (r *Performer) buildCreate(v gomatrixserverlib.IRoomVersion, creator spec.UserID, content json.RawMessage) (gomatrixserverlib.PDU, error) {
	empty := ""
	proto := gomatrixserverlib.ProtoEvent{
		SenderID: creator.String(), Type: spec.MRoomCreate, StateKey: &empty,
		Content: spec.RawJSON(content), Version: v, PrevEvents: []string{}, AuthEvents: []string{}, Depth: 1,
	}
	ev, err := v.NewEventBuilderFromProtoEvent(&proto).Build(r.now(), r.identity.ServerName, identity.KeyID, r.identity.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: create event: %v", ErrBadEvent, err)
	}
	auth, _ := gomatrixserverlib.NewAuthEvents(nil)
	if err := gomatrixserverlib.Allowed(ev, auth, userIDForSender); err != nil {
		return nil, fmt.Errorf("%w: create event: %v", ErrForbidden, err)
	}
	return ev, nil
}

// defaultPowerLevels gives the creator power 100, except from room version
// 12 on, where creators are privileged and must not be listed in users.
func defaultPowerLevels(creator spec.UserID, v gomatrixserverlib.IRoomVersion) map[string]any {
	users := map[string]int64{}
	if !v.PrivilegedCreators() {
		users[creator.String()] = 100
	}
	return map[string]any{
		"users":          users,
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"ban":            50,
		"kick":           50,
		"redact":         50,
		"invite":         0,
		"events": map[string]int64{
			spec.MRoomName: 50, spec.MRoomPowerLevels: 100, spec.MRoomHistoryVisibility: 100,
			"m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100,
			"m.room.server_acl": 100, "m.room.encryption": 100,
		},
		"notifications": map[string]int64{"room": 50},
	}
}

// randomID returns n characters of URL-safe randomness.
func randomID(random io.Reader, n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(random, b); err != nil {
		panic(fmt.Sprintf("read randomness: %v", err)) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
