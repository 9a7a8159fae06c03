package clientapi

import (
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/room"
	"hearth/go/syncapi"
)

func (a *API) createRoom(req *request) (any, error) {
	var body room.CreateRequest
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	// Users of other servers are invited once the room exists, over
	// federation (PUT /_matrix/federation/v2/invite): an invite event made
	// inside the creation would never reach their server, which is not yet
	// in the room. Their invites carry no is_direct.
	var local, remote []string
	for _, raw := range body.Invite {
		if u, err := spec.NewUserID(raw, true); err == nil && u.Domain() != a.server {
			remote = append(remote, raw)
		} else {
			local = append(local, raw)
		}
	}
	body.Invite = local
	roomID, err := a.perform.Create(req.ctx(), req.device.UserID, body)
	if err != nil {
		return nil, err
	}
	for _, raw := range remote {
		target, _ := spec.NewUserID(raw, true)
		if err := a.fed.Invite(req.ctx(), req.device.UserID, roomID, *target, ""); err != nil {
			log.WithError(err).WithField("invitee", raw).Warn("createRoom: remote invite failed")
		}
	}
	return map[string]string{"room_id": roomID}, nil
}

func (a *API) joinedRooms(req *request) (any, error) {
	ids, err := a.query.JoinedRooms(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	return map[string][]string{"joined_rooms": ids}, nil
}

func (a *API) sendMessage(req *request) (any, error) {
	content, err := readJSONObject(req.Request)
	if err != nil {
		return nil, err
	}
	eventID, err := a.perform.Send(req.ctx(), req.device.UserID, req.device.DeviceID, req.PathValue("txnId"),
		req.PathValue("roomId"), req.PathValue("eventType"), nil, content)
	if err != nil {
		return nil, err
	}
	return map[string]string{"event_id": eventID}, nil
}

func (a *API) putState(req *request) (any, error) {
	content, err := readJSONObject(req.Request)
	if err != nil {
		return nil, err
	}
	stateKey, roomID, evType := req.PathValue("stateKey"), req.PathValue("roomId"), req.PathValue("eventType")
	if evType == spec.MRoomCanonicalAlias && stateKey == "" {
		if err := a.checkCanonicalAliases(req.ctx(), req.device.UserID, roomID, content); err != nil {
			return nil, err
		}
	}
	eventID, err := a.perform.Send(req.ctx(), req.device.UserID, req.device.DeviceID, "", roomID, evType, &stateKey, content)
	if err != nil {
		return nil, err
	}
	return map[string]string{"event_id": eventID}, nil
}

func (a *API) getState(req *request) (any, error) {
	ev, err := a.query.StateEvent(req.ctx(), req.device.UserID, req.PathValue("roomId"), req.PathValue("eventType"), req.PathValue("stateKey"))
	if err != nil {
		return nil, err
	}
	if req.URL.Query().Get("format") == "event" {
		return syncapi.ToClientEvent(ev, true), nil
	}
	return json.RawMessage(ev.Content()), nil
}

func (a *API) roomState(req *request) (any, error) {
	events, err := a.query.CurrentState(req.ctx(), req.device.UserID, req.PathValue("roomId"))
	if err != nil {
		return nil, err
	}
	return toClientEvents(events), nil
}

// maxMessagesLimit caps /messages' limit parameter.
const maxMessagesLimit = 1000

func (a *API) messages(req *request) (any, error) {
	q := req.URL.Query()
	dir := q.Get("dir")
	if dir == "" {
		dir = room.Backward
	}
	if dir != room.Backward && dir != room.Forward {
		return nil, invalidParam("dir must be b or f")
	}
	limit := 10
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, invalidParam("limit must be a non-negative integer")
		}
		limit = min(n, maxMessagesLimit)
	}
	var from room.StreamPos
	if s := q.Get("from"); s != "" {
		var err error
		if from, err = room.ParseStreamPos(syncapi.EventsPart(s)); err != nil {
			return nil, err
		}
	} else if dir == room.Backward {
		latest, err := a.query.LatestPos(req.ctx())
		if err != nil {
			return nil, err
		}
		from = latest
	}
	var filter syncapi.RoomEventFilter
	if s := q.Get("filter"); s != "" {
		if err := json.Unmarshal([]byte(s), &filter); err != nil {
			return nil, badJSON("filter is not a RoomEventFilter: " + err.Error())
		}
	}
	roomID := req.PathValue("roomId")
	events, next, more, err := a.query.Messages(req.ctx(), req.device.UserID, roomID, from, dir, limit)
	if err != nil {
		return nil, err
	}
	if dir == room.Backward && !more && len(events) < limit {
		// Out of history here: ask the room's other servers for older events.
		added, err := a.fed.Backfill(req.ctx(), roomID, limit-len(events))
		if err != nil {
			log.WithError(err).WithField("room_id", roomID).Info("backfill failed")
		}
		if added > 0 {
			if events, next, more, err = a.query.Messages(req.ctx(), req.device.UserID, roomID, from, dir, limit); err != nil {
				return nil, err
			}
		}
	}
	shown := events[:0:0]
	senders := map[string]bool{}
	for _, ev := range events {
		if filter.Allows(ev.PDU) {
			shown = append(shown, ev)
			senders[string(ev.SenderID())] = true
		}
	}
	chunk, err := a.clientEvents(req, roomID, shown)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"start": from.String(), "chunk": chunk}
	if more {
		resp["end"] = next.String()
	}
	if filter.LazyLoadMembers {
		// The senders' member events, so a lazy-loading client can show them
		// (spec 1.11, "Lazy-loading room members").
		members, err := a.query.CurrentMemberEvents(req.ctx(), roomID, slices.Collect(maps.Keys(senders)))
		if err != nil {
			return nil, err
		}
		resp["state"] = toClientEvents(members)
	}
	return resp, nil
}

type membershipRequest struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

// join is POST /rooms/{roomId}/join and /join/{roomIdOrAlias}. The body's
// reason and other keys go into the member event's content; third-party
// invites are not supported, so third_party_signed is dropped.
func (a *API) join(req *request) (any, error) {
	var extra map[string]any
	if err := readJSON(req.Request, &extra); err != nil {
		return nil, err
	}
	if reason, ok := extra["reason"]; ok {
		if _, isString := reason.(string); !isString {
			return nil, badJSON("reason must be a string")
		}
	}
	delete(extra, "third_party_signed")
	delete(extra, "membership")
	roomID := req.PathValue("roomId")
	if roomID == "" {
		roomID = req.PathValue("roomIdOrAlias")
	}
	q := req.URL.Query()
	var via []spec.ServerName
	for _, s := range append(q["server_name"], q["via"]...) {
		via = append(via, spec.ServerName(s))
	}
	if strings.HasPrefix(roomID, "#") {
		resolved, servers, err := a.fed.ResolveAlias(req.ctx(), roomID)
		if err != nil {
			return nil, err
		}
		roomID, via = resolved, append(via, servers...)
	}
	if !strings.HasPrefix(roomID, "!") {
		return nil, invalidParam("not a room ID or alias: " + roomID)
	}
	if err := a.fed.Join(req.ctx(), req.device.UserID, roomID, via, extra); err != nil {
		return nil, err
	}
	return map[string]string{"room_id": roomID}, nil
}

func (a *API) leave(req *request) (any, error) {
	var body membershipRequest
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	return struct{}{}, a.fed.Leave(req.ctx(), req.device.UserID, req.PathValue("roomId"), body.Reason)
}

func (a *API) invite(req *request) (any, error) {
	body, target, err := readTarget(req)
	if err != nil {
		return nil, err
	}
	return struct{}{}, a.fed.Invite(req.ctx(), req.device.UserID, req.PathValue("roomId"), target, body.Reason)
}

// kick is POST /rooms/{roomId}/kick: only a user who is in the room (joined,
// invited or knocking) can be kicked; one who left or never came is refused.
func (a *API) kick(req *request) (any, error) {
	return a.changeOthersMembership(req, spec.Leave, "is not in the room", spec.Join, spec.Invite, spec.Knock)
}

// unban is POST /rooms/{roomId}/unban: only a banned user can be unbanned.
func (a *API) unban(req *request) (any, error) {
	return a.changeOthersMembership(req, spec.Leave, "is not banned", spec.Ban)
}

// ban is POST /rooms/{roomId}/ban, whatever the target's membership.
func (a *API) ban(req *request) (any, error) {
	return a.changeOthersMembership(req, spec.Ban, "")
}

// changeOthersMembership sets the body's user_id to membership with a local
// event, which the room's outbox sends to every server in the room, the
// target's included. With from given, the target's current membership must be
// one of them, or the request is refused with 403 and "<user> "+refusal.
func (a *API) changeOthersMembership(req *request, membership, refusal string, from ...string) (any, error) {
	body, target, err := readTarget(req)
	if err != nil {
		return nil, err
	}
	roomID := req.PathValue("roomId")
	if len(from) > 0 {
		m, err := a.query.MembershipOf(req.ctx(), roomID, target)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(from, m) {
			return nil, errcode.New(http.StatusForbidden, "M_FORBIDDEN", target.String()+" "+refusal)
		}
	}
	_, err = a.perform.SetMembership(req.ctx(), req.device.UserID, roomID, target, membership, body.Reason)
	return struct{}{}, err
}

func readTarget(req *request) (membershipRequest, spec.UserID, error) {
	var body membershipRequest
	if err := readJSON(req.Request, &body); err != nil {
		return body, spec.UserID{}, err
	}
	target, err := spec.NewUserID(body.UserID, true)
	if err != nil {
		return body, spec.UserID{}, badJSON("user_id is not a valid user ID: " + body.UserID)
	}
	return body, *target, nil
}

// maxSyncTimeout caps long-polls below the ~30 s after which Firefox stops an
// idle service worker, so the worker always has a request in flight.
const maxSyncTimeout = 20 * time.Second

func (a *API) sync(req *request) (any, error) {
	q := req.URL.Query()
	timeout := time.Duration(0)
	if s := q.Get("timeout"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return nil, invalidParam("timeout must be a non-negative integer of milliseconds")
		}
		timeout = min(time.Duration(ms)*time.Millisecond, maxSyncTimeout)
	}
	filter, err := a.filters.Resolve(req.ctx(), req.device.UserID, q.Get("filter"))
	if err != nil {
		return nil, err
	}
	if s := q.Get("set_presence"); s == "online" || s == "unavailable" {
		if a.ephemeral.GetPresence(req.device.UserID).State != s {
			a.ephemeral.SetPresence(req.device.UserID, s, "")
		}
	}
	return a.syncer.Sync(req.ctx(), syncapi.Request{
		User: req.device.UserID, DeviceID: req.device.DeviceID,
		Since: q.Get("since"), Timeout: timeout, FullState: q.Get("full_state") == "true", Filter: filter,
	})
}

// randomSession returns an opaque identifier for a user-interactive auth session.
func randomSession() string {
	return strings.ToUpper(rand.Text())
}
