package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/account"
	"hearth/go/errcode"
	"hearth/go/room"
)

// m.room.canonical_alias, as the client-server API ("PUT
// /rooms/{roomId}/state/{eventType}/{stateKey}" and "m.room.canonical_alias")
// asks of servers: the aliases an event adds must be well formed and point to
// the room (400 M_BAD_ALIAS otherwise); those already in the event or being
// removed are not checked. Deleting an alias takes it out of the event.

// canonicalAliases is the content of m.room.canonical_alias.
type canonicalAliases struct {
	Alias      string   `json:"alias,omitempty"`
	AltAliases []string `json:"alt_aliases,omitempty"`
}

func (c canonicalAliases) all() []string {
	if c.Alias == "" {
		return c.AltAliases
	}
	return append([]string{c.Alias}, c.AltAliases...)
}

func badAlias(message string) *errcode.Error {
	return errcode.New(http.StatusBadRequest, "M_BAD_ALIAS", message)
}

// checkCanonicalAliases refuses content for roomID's m.room.canonical_alias
// whose new aliases are malformed, unknown or point to another room.
func (a *API) checkCanonicalAliases(ctx context.Context, user spec.UserID, roomID string, content json.RawMessage) error {
	var next canonicalAliases
	if err := json.Unmarshal(content, &next); err != nil {
		return badJSON("m.room.canonical_alias: alias must be a string and alt_aliases a list of strings")
	}
	var current canonicalAliases
	if ev, err := a.query.StateEvent(ctx, user, roomID, spec.MRoomCanonicalAlias, ""); err == nil {
		_ = json.Unmarshal(ev.Content(), &current)
	} else if !errors.Is(err, room.ErrEventNotFound) {
		return err
	}
	for _, alias := range next.all() {
		if slices.Contains(current.all(), alias) {
			continue
		}
		if _, _, err := gomatrixserverlib.SplitID('#', alias); err != nil {
			return badAlias("not a room alias: " + alias)
		}
		target, _, err := a.fed.ResolveAlias(ctx, alias)
		if err != nil {
			return badAlias(alias + " does not exist: " + err.Error())
		}
		if target != roomID {
			return badAlias(alias + " points to another room")
		}
	}
	return nil
}

// dropCanonicalAlias takes a deleted alias out of its room's
// m.room.canonical_alias, on behalf of dev's user, if it is there. Best effort:
// a user who may delete the alias but not change the event leaves it as is.
func (a *API) dropCanonicalAlias(ctx context.Context, dev account.Device, roomID, alias string) {
	ev, err := a.query.StateEvent(ctx, dev.UserID, roomID, spec.MRoomCanonicalAlias, "")
	if err != nil {
		return
	}
	var c canonicalAliases
	if json.Unmarshal(ev.Content(), &c) != nil || !slices.Contains(c.all(), alias) {
		return
	}
	if c.Alias == alias {
		c.Alias = ""
	}
	c.AltAliases = slices.DeleteFunc(c.AltAliases, func(s string) bool { return s == alias })
	raw, _ := json.Marshal(c)
	stateKey := ""
	if _, err := a.perform.Send(ctx, dev.UserID, dev.DeviceID, "", roomID, spec.MRoomCanonicalAlias, &stateKey, raw); err != nil {
		log.WithError(err).WithField("room_id", roomID).Info("deleted alias stays in m.room.canonical_alias")
	}
}
