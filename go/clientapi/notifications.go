package clientapi

import (
	"strconv"

	"hearth/go/syncapi"
)

// defaultNotificationsLimit is the page size of GET /notifications when the
// client names none.
const defaultNotificationsLimit = 20

// notifications is GET /notifications (spec v1.11, "Listing notifications"):
// the events the caller's push rules made notify, newest first, each with
// the actions of the rule, whether it is read and when it was evaluated;
// from is a next_token, only=highlight keeps the highlights.
func (a *API) notifications(req *request) (any, error) {
	q := req.URL.Query()
	var from int64
	if s := q.Get("from"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, invalidParam("from must be a next_token of this endpoint")
		}
		from = n
	}
	limit := defaultNotificationsLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, invalidParam("limit must be a non-negative integer")
		}
		limit = min(n, maxMessagesLimit)
	}
	only := q.Get("only")
	if only != "" && only != "highlight" {
		return nil, invalidParam("only must be highlight")
	}
	list, err := a.push.List(req.ctx(), req.device.UserID, from, limit, only == "highlight")
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, n := range list {
		ev, err := a.query.Event(req.ctx(), n.RoomID, n.EventID)
		if err != nil {
			continue // gone (a room forgotten, purged): nothing to show
		}
		out = append(out, map[string]any{
			"actions": n.Actions, "event": syncapi.ToClientEvent(ev, true), "read": n.Read,
			"room_id": n.RoomID, "ts": n.TS,
		})
	}
	body := map[string]any{"notifications": out}
	if len(list) == limit && limit > 0 {
		body["next_token"] = strconv.FormatInt(list[len(list)-1].Pos, 10)
	}
	return body, nil
}
