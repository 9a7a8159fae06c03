package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/identity"
	"hearth/go/room"
)

// Invites across servers (server-server API, "Inviting to a room", v2): the
// inviting server signs the invite, the invitee's server countersigns it and
// shows it to its user; the inviting server then adds it to the room.

// inviteRequest is the body of PUT /_matrix/federation/v2/invite.
type inviteRequest struct {
	Event       json.RawMessage               `json:"event"`
	RoomVersion gomatrixserverlib.RoomVersion `json:"room_version"`
	// InviteRoomState is stripped state: {type, state_key, sender, content}.
	InviteRoomState []json.RawMessage `json:"invite_room_state"`
}

func (f *Federation) invite(req *request) (any, error) {
	var body inviteRequest
	if err := req.readContent(&body); err != nil {
		return nil, err
	}
	if !supported(body.RoomVersion) {
		return nil, fmt.Errorf("%w: %q", ErrIncompatibleVersion, body.RoomVersion)
	}
	v := gomatrixserverlib.MustGetRoomVersion(body.RoomVersion)
	ev, err := v.NewEventFromUntrustedJSON(body.Event)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	m, _ := ev.Membership()
	sender, err := spec.NewUserID(string(ev.SenderID()), true)
	if err != nil {
		return nil, fmt.Errorf("%w: sender: %v", ErrBadEvent, err)
	}
	var target *spec.UserID
	if ev.StateKey() != nil {
		target, _ = spec.NewUserID(*ev.StateKey(), true)
	}
	switch {
	case ev.EventID() != req.PathValue("eventId") || ev.RoomID().String() != req.PathValue("roomId"):
		return nil, fmt.Errorf("%w: event ID or room ID differs from the path", ErrBadEvent)
	case ev.Type() != spec.MRoomMember || m != spec.Invite || target == nil:
		return nil, fmt.Errorf("%w: not an invite", ErrBadEvent)
	case target.Domain() != f.id.ServerName:
		return nil, fmt.Errorf("%w: %s is not a user of this server", ErrBadEvent, target.String())
	case sender.Domain() != req.origin:
		return nil, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "a server may only send invites from its own users")
	}
	if err := f.requireActive(req.ctx(), *target); err != nil {
		return nil, err
	}
	// Only the sender's signature can be checked yet: ours comes next.
	if err := verifyEventSignedBy(v, ev, sender.Domain()); err != nil {
		return nil, err
	}
	signed := ev.Sign(string(f.id.ServerName), identity.KeyID, f.id.Key)
	stripped, err := boundStrippedState(body.InviteRoomState)
	if err != nil {
		return nil, err
	}
	if err := f.rooms.Input.StoreRemoteMembership(req.ctx(), signed, stripped); err != nil {
		return nil, err
	}
	return map[string]json.RawMessage{"event": signed.JSON()}, nil
}

// requireActive refuses an invite for a user who does not exist here or is
// deactivated, with the spec's answer to an invite that is not allowed: 403
// M_FORBIDDEN. Nobody could ever accept it, and it would be stored for ever.
func (f *Federation) requireActive(ctx context.Context, user spec.UserID) error {
	active := false
	if f.opts.Accounts != nil {
		var err error
		if active, err = f.opts.Accounts.Active(ctx, user); err != nil {
			return err
		}
	}
	if !active {
		return errcode.New(http.StatusForbidden, "M_FORBIDDEN", "no such user: "+user.String())
	}
	return nil
}

// verifyEventSignedBy checks one server's signature on an event.
func verifyEventSignedBy(v gomatrixserverlib.IRoomVersion, ev gomatrixserverlib.PDU, server spec.ServerName) error {
	redacted, err := v.RedactEventJSON(ev.JSON())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	results, _ := keyRing{}.VerifyJSONs(context.Background(), []gomatrixserverlib.VerifyJSONRequest{{ServerName: server, Message: redacted}})
	if results[0].Error != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadEvent, ev.EventID(), results[0].Error)
	}
	return nil
}

// Invite invites target to a room on behalf of a local user: a local event
// for a local target, otherwise countersigned by the target's server first.
func (f *Federation) Invite(ctx context.Context, sender spec.UserID, roomID string, target spec.UserID, reason string) error {
	if target.Domain() == f.id.ServerName {
		_, err := f.rooms.Perform.SetMembership(ctx, sender, roomID, target, spec.Invite, reason)
		return err
	}
	content := map[string]any{"membership": spec.Invite}
	if reason != "" {
		content["reason"] = reason
	}
	raw, _ := json.Marshal(content)
	stateKey := target.String()
	if err := f.rooms.Query.RequireJoined(ctx, roomID, sender); err != nil {
		return err
	}
	builder, err := f.rooms.Perform.Template(ctx, roomID, sender, spec.MRoomMember, &stateKey, raw)
	if err != nil {
		return err
	}
	ev, err := f.rooms.Perform.Sign(builder)
	if err != nil {
		return err
	}
	v, err := f.rooms.Query.RoomVersion(ctx, roomID)
	if err != nil {
		return err
	}
	strippedEvents, err := f.rooms.Query.StrippedState(ctx, roomID)
	if err != nil {
		return err
	}
	stripped := make([]json.RawMessage, 0, len(strippedEvents))
	for _, s := range strippedEvents {
		b, _ := json.Marshal(map[string]any{
			"type": s.Type(), "state_key": *s.StateKey(), "sender": s.SenderID(), "content": json.RawMessage(s.Content()),
		})
		stripped = append(stripped, b)
	}
	body := inviteRequest{Event: ev.JSON(), RoomVersion: v.Version(), InviteRoomState: stripped}
	var resp struct {
		Event json.RawMessage `json:"event"`
	}
	if err := f.client.do(ctx, target.Domain(), "PUT", path("/_matrix/federation/v2/invite", roomID, ev.EventID()), nil, body, &resp); err != nil {
		return fmt.Errorf("invite %s: %w", target.String(), err)
	}
	countersigned, err := f.parseEvent(ctx, v, resp.Event)
	if err != nil {
		return err
	}
	if countersigned.EventID() != ev.EventID() {
		return fmt.Errorf("%w: %s changed the invite", ErrBadEvent, target.Domain())
	}
	outcome, err := f.rooms.Input.Receive(ctx, room.Incoming{Event: countersigned, Broadcast: true})
	if err != nil {
		return err
	}
	if outcome == room.Rejected {
		return fmt.Errorf("%w: the auth rules refuse the invite", room.ErrForbidden)
	}
	return nil
}
