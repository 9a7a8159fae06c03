package clientapi

import (
	"strconv"

	"hearth/go/room"
	"hearth/go/syncapi"
)

// Relations and threads (spec 1.11, "Relationships between events",
// "Threading").

// defaultRelationsLimit is the page size of /relations and /threads when the
// client names none.
const defaultRelationsLimit = 50

// relations is GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]:
// the children of an event that the user may see, paged with from, to,
// limit and dir (b, newest first, by default).
func (a *API) relations(req *request) (any, error) {
	q := req.URL.Query()
	rq := room.RelationsQuery{EventID: req.PathValue("eventId"), RelType: req.PathValue("relType"), EventType: req.PathValue("eventType"), Dir: room.Backward}
	switch d := q.Get("dir"); d {
	case "", room.Backward:
	case room.Forward:
		rq.Dir = room.Forward
	default:
		return nil, invalidParam("dir must be b or f")
	}
	var err error
	if rq.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return nil, err
	}
	if rq.From, err = pageToken(q.Get("from")); err != nil {
		return nil, err
	}
	if rq.To, err = pageToken(q.Get("to")); err != nil {
		return nil, err
	}
	roomID := req.PathValue("roomId")
	events, next, more, err := a.query.Relations(req.ctx(), req.device.UserID, roomID, rq)
	if err != nil {
		return nil, err
	}
	return a.eventPage(req, roomID, events, next, more)
}

// threads is GET /rooms/{roomId}/threads: the room's thread roots, the most
// recently active first, each with its m.thread summary; include=participated
// keeps the threads the user took part in.
func (a *API) threads(req *request) (any, error) {
	q := req.URL.Query()
	include := q.Get("include")
	if include != "" && include != "all" && include != "participated" {
		return nil, invalidParam("include must be all or participated")
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return nil, err
	}
	from, err := pageToken(q.Get("from"))
	if err != nil {
		return nil, err
	}
	roomID := req.PathValue("roomId")
	roots, next, more, err := a.query.Threads(req.ctx(), req.device.UserID, roomID, from, limit, include == "participated")
	if err != nil {
		return nil, err
	}
	return a.eventPage(req, roomID, roots, next, more)
}

// eventPage is one page of a paginated event list: {chunk, next_batch when
// more may follow}.
func (a *API) eventPage(req *request, roomID string, events []room.Event, next room.StreamPos, more bool) (any, error) {
	chunk, err := a.clientEvents(req, roomID, events)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"chunk": chunk}
	if more {
		resp["next_batch"] = next.String()
	}
	return resp, nil
}

// pageLimit reads a limit parameter: defaultRelationsLimit when absent, at
// most maxMessagesLimit.
func pageLimit(s string) (int, error) {
	if s == "" {
		return defaultRelationsLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, invalidParam("limit must be a non-negative integer")
	}
	return min(n, maxMessagesLimit), nil
}

// pageToken reads a from or to token; 0 when absent.
func pageToken(s string) (room.StreamPos, error) {
	if s == "" {
		return 0, nil
	}
	return room.ParseStreamPos(syncapi.EventsPart(s))
}
