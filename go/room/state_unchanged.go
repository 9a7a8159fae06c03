package room

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// unchangedState returns the event ID of the room's current state event that
// ne would replace when ne changes nothing: same type, state key, sender and
// content (compared as canonical JSON). Setting state to what it already is,
// or joining a room one is joined to with the same profile, then returns the
// existing event instead of adding one. "" when ne is no state event or
// changes something.
func unchangedState(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID string, ne newEvent) (string, error) {
	if ne.StateKey == nil {
		return "", nil
	}
	current, err := stateEvent(ctx, q, v, roomID, ne.Type, *ne.StateKey)
	if errors.Is(err, ErrEventNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if string(current.SenderID()) != ne.Sender.String() {
		return "", nil
	}
	want, err := gomatrixserverlib.CanonicalJSON(ne.Content)
	if err != nil {
		return "", fmt.Errorf("%w: content: %v", ErrBadEvent, err)
	}
	have, err := gomatrixserverlib.CanonicalJSON(current.Content())
	if err != nil {
		return "", fmt.Errorf("canonical content of %s: %w", current.EventID(), err)
	}
	if !bytes.Equal(want, have) {
		return "", nil
	}
	return current.EventID(), nil
}
