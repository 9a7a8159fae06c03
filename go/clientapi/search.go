package clientapi

import (
	"strconv"
	"strings"

	"hearth/go/room"
	"hearth/go/syncapi"
)

// Server-side search (spec 1.11, "POST /search"): room events by body, with
// order_by rank or recent, next_batch paging and context around each result.
// keys other than content.body, groupings and include_state are not supported.

// searchPageSize is how many results one page of /search holds, at most.
const searchPageSize = 10

// maxSearchContext caps before_limit and after_limit.
const maxSearchContext = 20

type searchBody struct {
	SearchCategories struct {
		RoomEvents *struct {
			SearchTerm string `json:"search_term"`
			OrderBy    string `json:"order_by"`
			Filter     struct {
				syncapi.RoomEventFilter
				Rooms *[]string `json:"rooms"`
				Limit int       `json:"limit"`
			} `json:"filter"`
			EventContext *struct {
				BeforeLimit *int `json:"before_limit"`
				AfterLimit  *int `json:"after_limit"`
			} `json:"event_context"`
		} `json:"room_events"`
	} `json:"search_categories"`
}

func (a *API) search(req *request) (any, error) {
	var body searchBody
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	re := body.SearchCategories.RoomEvents
	if re == nil {
		return map[string]any{"search_categories": map[string]any{}}, nil
	}
	if re.SearchTerm == "" {
		return nil, badJSON("search_categories.room_events.search_term is required")
	}
	if re.OrderBy != "" && re.OrderBy != "rank" && re.OrderBy != "recent" {
		return nil, invalidParam("order_by must be rank or recent")
	}
	q := room.SearchQuery{Terms: room.SearchTerms(re.SearchTerm), Recent: re.OrderBy == "recent", Limit: searchPageSize}
	if re.Filter.Rooms != nil {
		q.RoomIDs = *re.Filter.Rooms
	}
	if re.Filter.Limit > 0 {
		q.Limit = min(re.Filter.Limit, searchPageSize)
	}
	if batch := req.URL.Query().Get("next_batch"); batch != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(batch, "r"), "s"), 10, 64)
		if err != nil || n < 0 || (q.Recent != strings.HasPrefix(batch, "s")) {
			return nil, invalidParam("next_batch is not a token of this search")
		}
		if q.Recent {
			q.Before = room.StreamPos(n) // "s<position>": results before it
		} else {
			q.Offset = int(n) // "r<offset>": results already given
		}
	}
	results, count, more, err := a.rooms.Search(req.ctx(), req.device.UserID, q)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, res := range results {
		if !re.Filter.Allows(res.PDU) {
			continue
		}
		item := map[string]any{"rank": res.Rank, "result": syncapi.ToClientEvent(res.PDU, true)}
		if ec := re.EventContext; ec != nil {
			c, err := a.searchContext(req, res, ec.BeforeLimit, ec.AfterLimit)
			if err != nil {
				return nil, err
			}
			item["context"] = c
		}
		out = append(out, item)
	}
	roomEvents := map[string]any{"count": count, "highlights": q.Terms, "results": out}
	if more {
		if q.Recent {
			roomEvents["next_batch"] = "s" + strconv.FormatInt(int64(results[len(results)-1].Pos), 10)
		} else {
			roomEvents["next_batch"] = "r" + strconv.Itoa(q.Offset+len(results))
		}
	}
	return map[string]any{"search_categories": map[string]any{"room_events": roomEvents}}, nil
}

// searchContext is the events around one result (5 either side unless asked).
func (a *API) searchContext(req *request, res room.SearchResult, before, after *int) (map[string]any, error) {
	nb, na := 5, 5
	if before != nil {
		nb = min(max(*before, 0), maxSearchContext)
	}
	if after != nil {
		na = min(max(*after, 0), maxSearchContext)
	}
	roomID := res.RoomID().String()
	older, _, _, err := a.rooms.Messages(req.ctx(), req.device.UserID, roomID, res.Pos-1, room.Backward, nb)
	if err != nil {
		return nil, err
	}
	newer, _, _, err := a.rooms.Messages(req.ctx(), req.device.UserID, roomID, res.Pos, room.Forward, na)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"events_before": toClientEvents(older), "events_after": toClientEvents(newer),
		"start": (res.Pos - 1).String(), "end": res.Pos.String(),
	}, nil
}
