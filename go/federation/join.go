package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/identity"
	"hearth/go/room"
)

// Joining and leaving across servers (server-server API, "Joining Rooms",
// "Leaving Rooms (Rejecting Invites)"): the resident server hands out an
// event template (make_*), the joining server signs it and sends it back
// (send_*), and the resident server adds it to the room and tells the others.

// templateResponse is the answer to make_join and make_leave.
type templateResponse struct {
	Event       json.RawMessage               `json:"event"`
	RoomVersion gomatrixserverlib.RoomVersion `json:"room_version"`
}

func (f *Federation) makeJoin(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	v, err := f.rooms.Query.RoomVersion(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	offered := req.URL.Query()["ver"]
	if len(offered) == 0 {
		offered = []string{"1"} // the spec's default when the joiner names none
	}
	if !slices.Contains(offered, string(v.Version())) {
		return nil, fmt.Errorf("%w: room %s is version %s", ErrIncompatibleVersion, roomID, v.Version())
	}
	return f.template(req, roomID, v, spec.Join)
}

func (f *Federation) makeLeave(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	v, err := f.rooms.Query.RoomVersion(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	return f.template(req, roomID, v, spec.Leave)
}

// template answers make_join and make_leave for a user of the requesting server.
func (f *Federation) template(req *request, roomID string, v gomatrixserverlib.IRoomVersion, membership string) (any, error) {
	user, err := spec.NewUserID(req.PathValue("userId"), true)
	if err != nil {
		return nil, fmt.Errorf("%w: user ID: %v", ErrBadRequest, err)
	}
	if user.Domain() != req.origin {
		return nil, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "a server may only make events for its own users")
	}
	resident, err := f.rooms.Query.Resident(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	if !resident {
		return nil, fmt.Errorf("%w: this server is not in %s", room.ErrRoomNotFound, roomID)
	}
	stateKey := user.String()
	content, _ := json.Marshal(map[string]string{"membership": membership})
	builder, err := f.rooms.Perform.Template(req.ctx(), roomID, *user, spec.MRoomMember, &stateKey, content)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(builder)
	if err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	return templateResponse{Event: raw, RoomVersion: v.Version()}, nil
}

func (f *Federation) sendJoin(req *request) (any, error) {
	ev, err := f.receiveMembership(req, spec.Join)
	if err != nil {
		return nil, err
	}
	roomID := ev.RoomID().String()
	state, chain, err := f.rooms.Query.StateBefore(req.ctx(), roomID, ev.EventID())
	if err != nil {
		return nil, err
	}
	servers, err := f.rooms.Query.JoinedServers(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"origin": f.id.ServerName, "event": json.RawMessage(ev.JSON()),
		"state": rawEvents(state), "auth_chain": rawEvents(chain),
		"members_omitted": false, "servers_in_room": servers,
	}, nil
}

func (f *Federation) sendLeave(req *request) (any, error) {
	if _, err := f.receiveMembership(req, spec.Leave); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// receiveMembership checks and adds the signed join or leave of a user of
// the requesting server, then sends it to the rest of the room.
func (f *Federation) receiveMembership(req *request, membership string) (gomatrixserverlib.PDU, error) {
	roomID := req.PathValue("roomId")
	v, err := f.rooms.Query.RoomVersion(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	ev, err := f.parseEvent(req.ctx(), v, req.content)
	if err != nil {
		return nil, err
	}
	m, _ := ev.Membership()
	sender, err := spec.NewUserID(string(ev.SenderID()), true)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: sender: %v", ErrBadEvent, err)
	case ev.EventID() != req.PathValue("eventId") || ev.RoomID().String() != roomID:
		return nil, fmt.Errorf("%w: event ID or room ID differs from the path", ErrBadEvent)
	case ev.Type() != spec.MRoomMember || m != membership || ev.StateKey() == nil || *ev.StateKey() != sender.String():
		return nil, fmt.Errorf("%w: not a %s of its sender", ErrBadEvent, membership)
	case sender.Domain() != req.origin:
		return nil, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "a server may only send memberships of its own users")
	}
	outcome, err := f.process(req.ctx(), req.origin, room.Incoming{Event: ev, Broadcast: true}, false)
	if err != nil {
		return nil, err
	}
	if outcome == room.Rejected {
		return nil, fmt.Errorf("%w: the auth rules refuse %s", room.ErrForbidden, ev.EventID())
	}
	return ev, nil
}

// Join joins a local user to a room: locally if a local user is already in
// it, otherwise through one of servers (tried in order after the inviter's
// server and the room ID's server) with make_join and send_join. It returns
// once the user's join is part of the room here, with its state; recent
// history is backfilled afterwards, best effort.
func (f *Federation) Join(ctx context.Context, user spec.UserID, roomID string, servers []spec.ServerName, extra map[string]any) error {
	resident, err := f.rooms.Query.Resident(ctx, roomID)
	if err != nil {
		return err
	}
	if resident {
		_, err := f.rooms.Perform.JoinWithContent(ctx, user, roomID, extra)
		return err
	}
	var candidates []spec.ServerName
	if inviter, ok := f.rooms.Query.InviteSender(ctx, roomID, user); ok {
		candidates = append(candidates, inviter.Domain())
	}
	if _, domain, err := gomatrixserverlib.SplitID('!', roomID); err == nil {
		candidates = append(candidates, domain)
	}
	candidates = f.candidates(append(candidates, servers...))
	extra = f.withProfile(ctx, user, extra)
	if len(candidates) == 0 {
		// A room of this server that no local user is in any more.
		_, err := f.rooms.Perform.JoinWithContent(ctx, user, roomID, extra)
		return err
	}
	var errs []error
	for _, server := range candidates {
		err := f.joinVia(ctx, server, user, roomID, extra)
		if err == nil {
			return nil
		}
		var re *RemoteError
		if errors.As(err, &re) && re.Status == http.StatusForbidden {
			return fmt.Errorf("%w: %s refused the join: %s", room.ErrForbidden, server, re.Message)
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: join %s: %w", ErrUnreachable, roomID, errors.Join(errs...))
}

// withProfile adds the joining user's display name and avatar to a remote
// join's content (unless extra names its own): the resident server builds
// the template and knows nothing of our users' profiles, so without them
// the room would show the user by their ID alone.
func (f *Federation) withProfile(ctx context.Context, user spec.UserID, extra map[string]any) map[string]any {
	if f.opts.Accounts == nil {
		return extra
	}
	p, err := f.opts.Accounts.Profile(ctx, user)
	if err != nil {
		log.WithError(err).WithField("user_id", user.String()).Warn("joining without a profile")
		return extra
	}
	out := maps.Clone(extra)
	if out == nil {
		out = map[string]any{}
	}
	if _, given := out["displayname"]; !given && p.DisplayName != "" {
		out["displayname"] = p.DisplayName
	}
	if _, given := out["avatar_url"]; !given && p.AvatarURL != "" {
		out["avatar_url"] = p.AvatarURL
	}
	return out
}

// joinVia joins through one resident server.
func (f *Federation) joinVia(ctx context.Context, server spec.ServerName, user spec.UserID, roomID string, extra map[string]any) error {
	q := map[string][]string{"ver": {}}
	for _, v := range room.SupportedVersions {
		q["ver"] = append(q["ver"], string(v))
	}
	ev, v, err := f.signTemplate(ctx, server, "/_matrix/federation/v1/make_join", q, user, roomID, spec.Join, extra)
	if err != nil {
		return err
	}
	var resp struct {
		State     []json.RawMessage `json:"state"`
		AuthChain []json.RawMessage `json:"auth_chain"`
		Event     json.RawMessage   `json:"event"`
	}
	if err := f.client.do(ctx, server, "PUT", path("/_matrix/federation/v2/send_join", roomID, ev.EventID()), nil, json.RawMessage(ev.JSON()), &resp); err != nil {
		return fmt.Errorf("send_join to %s: %w", server, err)
	}
	if err := f.rooms.Input.EnsureRoom(ctx, roomID, v.Version()); err != nil {
		return err
	}
	state := f.parseEvents(ctx, v, resp.State)
	chain := f.parseEvents(ctx, v, resp.AuthChain)
	if err := f.rooms.Input.StoreOutliers(ctx, roomID, slices.Concat(chain, state)); err != nil {
		return err
	}
	outcome, err := f.process(ctx, server, room.Incoming{Event: ev, StateBefore: eventIDs(state)}, false)
	if err != nil {
		return err
	}
	if outcome == room.Rejected {
		return fmt.Errorf("%w: the room's state refuses the join", room.ErrForbidden)
	}
	if _, err := f.Backfill(ctx, roomID, recentHistory); err != nil {
		log.WithError(err).WithField("room_id", roomID).Warn("could not fetch recent history after joining")
	}
	return nil
}

// recentHistory is how many events a join fetches to show before it.
const recentHistory = 20

// signTemplate asks server for a membership template (make_join, make_leave),
// checks it is the membership asked for, adds extra's keys to its content
// (the membership stays), and signs it.
func (f *Federation) signTemplate(ctx context.Context, server spec.ServerName, endpoint string, q map[string][]string, user spec.UserID, roomID, membership string, extra map[string]any) (gomatrixserverlib.PDU, gomatrixserverlib.IRoomVersion, error) {
	var tmpl templateResponse
	if err := f.client.do(ctx, server, "GET", path(endpoint, roomID, user.String()), q, nil, &tmpl); err != nil {
		return nil, nil, fmt.Errorf("%s from %s: %w", endpoint, server, err)
	}
	if tmpl.RoomVersion == "" {
		tmpl.RoomVersion = gomatrixserverlib.RoomVersionV1
	}
	if !supported(tmpl.RoomVersion) {
		return nil, nil, fmt.Errorf("%w: %s", ErrIncompatibleVersion, tmpl.RoomVersion)
	}
	v := gomatrixserverlib.MustGetRoomVersion(tmpl.RoomVersion)
	var proto gomatrixserverlib.ProtoEvent
	if err := json.Unmarshal(tmpl.Event, &proto); err != nil {
		return nil, nil, fmt.Errorf("%w: template from %s: %v", ErrBadEvent, server, err)
	}
	var content struct {
		Membership string `json:"membership"`
	}
	_ = json.Unmarshal(proto.Content, &content)
	if proto.Type != spec.MRoomMember || proto.SenderID != user.String() || proto.StateKey == nil ||
		*proto.StateKey != user.String() || proto.RoomID != roomID || content.Membership != membership {
		return nil, nil, fmt.Errorf("%w: %s sent a template that is not a %s of %s", ErrBadEvent, server, membership, user.String())
	}
	if len(extra) > 0 {
		var full map[string]any
		if err := json.Unmarshal(proto.Content, &full); err != nil {
			return nil, nil, fmt.Errorf("%w: template content from %s: %v", ErrBadEvent, server, err)
		}
		for k, v := range extra {
			if k != "membership" {
				full[k] = v
			}
		}
		raw, err := json.Marshal(full)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s content: %w", membership, err)
		}
		proto.Content = raw
	}
	ev, err := v.NewEventBuilderFromProtoEvent(&proto).Build(f.opts.Now(), f.id.ServerName, identity.KeyID, f.id.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: build %s: %v", ErrBadEvent, membership, err)
	}
	return ev, v, nil
}

// Leave makes a local user leave a room, or reject an invite to a room this
// server is not in: then through the inviting server, with make_leave and
// send_leave.
func (f *Federation) Leave(ctx context.Context, user spec.UserID, roomID, reason string) error {
	resident, err := f.rooms.Query.Resident(ctx, roomID)
	if err != nil {
		return err
	}
	inviter, invited := f.rooms.Query.InviteSender(ctx, roomID, user)
	if resident || !invited {
		_, err := f.rooms.Perform.SetMembership(ctx, user, roomID, user, spec.Leave, reason)
		return err
	}
	candidates := []spec.ServerName{inviter.Domain()}
	if _, domain, err := gomatrixserverlib.SplitID('!', roomID); err == nil {
		candidates = append(candidates, domain)
	}
	candidates = f.candidates(candidates)
	if len(candidates) == 0 {
		// A room of this server that every local member has left: the
		// invite is rejected here, as in a room with members.
		_, err := f.rooms.Perform.SetMembership(ctx, user, roomID, user, spec.Leave, reason)
		return err
	}
	var errs []error
	for _, server := range candidates {
		ev, _, err := f.signTemplate(ctx, server, "/_matrix/federation/v1/make_leave", nil, user, roomID, spec.Leave, nil)
		if err == nil {
			err = f.client.do(ctx, server, "PUT", path("/_matrix/federation/v2/send_leave", roomID, ev.EventID()), nil, json.RawMessage(ev.JSON()), nil)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return f.rooms.Input.StoreRemoteMembership(ctx, ev, nil)
	}
	return fmt.Errorf("%w: reject invite to %s: %w", ErrUnreachable, roomID, errors.Join(errs...))
}
