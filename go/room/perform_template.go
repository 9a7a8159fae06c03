package room

import (
	"context"
	"encoding/json"
	"fmt"

	"hearth/go/identity"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Events this server builds for other servers' users (make_join, make_leave).

// Template builds an event at the room's forward extremities, with auth
// events from current state, for sender (who may be of another server:
// make_join and make_leave), and checks that the auth rules would allow it.
// The builder is the event template to sign; the caller builds it.
func (r *Performer) Template(ctx context.Context, roomID string, sender spec.UserID, evType string, stateKey *string, content json.RawMessage) (*gomatrixserverlib.EventBuilder, error) {
	q := reader{r.db}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	proto := gomatrixserverlib.ProtoEvent{
		SenderID: sender.String(), RoomID: roomID, Type: evType, StateKey: stateKey,
		Content: spec.RawJSON(content), Version: v,
	}
	prevIDs, depth, err := extremities(ctx, q, roomID)
	if err != nil {
		return nil, err
	}
	if len(prevIDs) == 0 {
		return nil, fmt.Errorf("%w: this server holds no events of %s", ErrRoomNotFound, roomID)
	}
	proto.PrevEvents, proto.Depth = prevIDs, depth+1
	auth, err := authEventsFor(&proto, currentStateLoader(ctx, q, v, roomID))
	if err != nil {
		return nil, err
	}
	builder := v.NewEventBuilderFromProtoEvent(&proto)
	if err := builder.AddAuthEvents(auth); err != nil {
		return nil, fmt.Errorf("select auth events: %w", err)
	}
	// Build a throwaway copy, signed by this server, only to run the auth rules.
	probe, err := builder.Build(r.now(), r.identity.ServerName, identity.KeyID, r.identity.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if err := gomatrixserverlib.Allowed(probe, auth, userIDForSender); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	return builder, nil
}

// Sign builds a template into an event signed by this server.
func (r *Performer) Sign(builder *gomatrixserverlib.EventBuilder) (gomatrixserverlib.PDU, error) {
	ev, err := builder.Build(r.now(), r.identity.ServerName, identity.KeyID, r.identity.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	return ev, nil
}
