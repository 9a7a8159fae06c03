package clientapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"

	"hearth/go/room"
	"hearth/go/syncapi"
)

// Server-side search (spec 1.11, "POST /search"): room events by message
// body, room name and topic (keys), with order_by rank or recent, the room
// event filter, next_batch paging, context around each result (with the
// senders' profiles when asked), groupings by room or sender and the
// current state of the rooms with results (include_state).

// searchPageSize is how many results one page of /search holds, at most.
const searchPageSize = 10

// maxSearchContext caps before_limit and after_limit.
const maxSearchContext = 20

type searchBody struct {
	SearchCategories struct {
		RoomEvents *struct {
			SearchTerm string    `json:"search_term"`
			Keys       *[]string `json:"keys"`
			OrderBy    string    `json:"order_by"`
			Filter     struct {
				syncapi.RoomEventFilter
				Rooms    *[]string `json:"rooms"`
				NotRooms []string  `json:"not_rooms"`
				Limit    int       `json:"limit"`
			} `json:"filter"`
			EventContext *struct {
				BeforeLimit    *int `json:"before_limit"`
				AfterLimit     *int `json:"after_limit"`
				IncludeProfile bool `json:"include_profile"`
			} `json:"event_context"`
			IncludeState bool `json:"include_state"`
			Groupings    struct {
				GroupBy []struct {
					Key string `json:"key"`
				} `json:"group_by"`
			} `json:"groupings"`
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
	if re.Keys != nil {
		for _, k := range *re.Keys {
			if _, ok := room.SearchKeys[k]; !ok {
				return nil, invalidParam("keys: " + k + " is not content.body, content.name or content.topic")
			}
		}
		q.Keys = *re.Keys
	}
	for _, g := range re.Groupings.GroupBy {
		if g.Key != "room_id" && g.Key != "sender" {
			return nil, invalidParam("groupings: group_by key must be room_id or sender")
		}
	}
	if re.Filter.Rooms != nil {
		q.RoomIDs = *re.Filter.Rooms
	}
	filter := re.Filter
	q.Allow = func(ev gomatrixserverlib.PDU) bool {
		return !slices.Contains(filter.NotRooms, ev.RoomID().String()) && filter.Allows(ev)
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
	results, count, more, err := a.query.Search(req.ctx(), req.device.UserID, q)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, res := range results {
		item := map[string]any{"rank": res.Rank, "result": syncapi.ToClientEvent(res.PDU, true)}
		if ec := re.EventContext; ec != nil {
			c, err := a.searchContext(req, res, ec.BeforeLimit, ec.AfterLimit, ec.IncludeProfile)
			if err != nil {
				return nil, err
			}
			item["context"] = c
		}
		out = append(out, item)
	}
	roomEvents := map[string]any{"count": count, "highlights": q.Terms, "results": out}
	if len(re.Groupings.GroupBy) > 0 {
		roomEvents["groups"] = searchGroups(results, re.Groupings.GroupBy)
	}
	if re.IncludeState {
		state := map[string][]syncapi.ClientEvent{}
		for _, res := range results {
			roomID := res.RoomID().String()
			if _, done := state[roomID]; done {
				continue
			}
			events, err := a.query.CurrentState(req.ctx(), req.device.UserID, roomID)
			if err != nil {
				return nil, err
			}
			state[roomID] = toClientEvents(events)
		}
		roomEvents["state"] = state
	}
	if more {
		if q.Recent {
			roomEvents["next_batch"] = "s" + strconv.FormatInt(int64(results[len(results)-1].Pos), 10)
		} else {
			roomEvents["next_batch"] = "r" + strconv.Itoa(q.Offset+len(results))
		}
	}
	return map[string]any{"search_categories": map[string]any{"room_events": roomEvents}}, nil
}

// searchGroups groups a page of results by each asked key (room_id,
// sender): key → value → {results: event IDs, order}, order being where the
// group's first result stands on the page (1 first).
func searchGroups(results []room.SearchResult, groupBy []struct {
	Key string `json:"key"`
}) map[string]any {
	groups := map[string]any{}
	for _, g := range groupBy {
		byValue := map[string]map[string]any{}
		for _, res := range results {
			value := res.RoomID().String()
			if g.Key == "sender" {
				value = string(res.SenderID())
			}
			group := byValue[value]
			if group == nil {
				group = map[string]any{"results": []string{}, "order": len(byValue) + 1}
				byValue[value] = group
			}
			group["results"] = append(group["results"].([]string), res.EventID())
		}
		groups[g.Key] = byValue
	}
	return groups
}

// searchContext is the events around one result (5 either side unless
// asked), with the profiles of their senders and the result's if asked
// (from their current member events in the room).
func (a *API) searchContext(req *request, res room.SearchResult, before, after *int, withProfiles bool) (map[string]any, error) {
	nb, na := 5, 5
	if before != nil {
		nb = min(max(*before, 0), maxSearchContext)
	}
	if after != nil {
		na = min(max(*after, 0), maxSearchContext)
	}
	roomID := res.RoomID().String()
	older, _, _, err := a.query.Messages(req.ctx(), req.device.UserID, roomID, res.Pos-1, room.Backward, nb)
	if err != nil {
		return nil, err
	}
	newer, _, _, err := a.query.Messages(req.ctx(), req.device.UserID, roomID, res.Pos, room.Forward, na)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"events_before": toClientEvents(older), "events_after": toClientEvents(newer),
		"start": (res.Pos - 1).String(), "end": res.Pos.String(),
	}
	if withProfiles {
		senders := []string{string(res.SenderID())}
		for _, ev := range append(slices.Clip(older), newer...) {
			if s := string(ev.SenderID()); !slices.Contains(senders, s) {
				senders = append(senders, s)
			}
		}
		members, err := a.query.CurrentMemberEvents(req.ctx(), roomID, senders)
		if err != nil {
			return nil, err
		}
		profiles := map[string]any{}
		for _, m := range members {
			var c struct {
				DisplayName string `json:"displayname"`
				AvatarURL   string `json:"avatar_url"`
			}
			_ = json.Unmarshal(m.Content(), &c)
			p := map[string]string{}
			if c.DisplayName != "" {
				p["displayname"] = c.DisplayName
			}
			if c.AvatarURL != "" {
				p["avatar_url"] = c.AvatarURL
			}
			profiles[*m.StateKey()] = p
		}
		out["profile_info"] = profiles
	}
	return out, nil
}
