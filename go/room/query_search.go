package room

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Server-side search of room events (client-server API v1.11, "Server Side
// Search", POST /search), over message bodies, room names and topics in the
// rooms the user is joined to, those they may see. Redacted events are not
// indexed.

// maxSearchCandidates bounds the matches ranked for order_by=rank.
const maxSearchCandidates = maxSQLVars

// SearchQuery is one search of room events.
type SearchQuery struct {
	Terms   []string // words, all of which a text must contain
	Keys    []string // of SearchKeys; nil: all of them
	RoomIDs []string // nil: every joined room
	// Allow, if set, keeps only the events it allows (the request's filter),
	// before paging, so that pages stay full.
	Allow  func(gomatrixserverlib.PDU) bool
	Recent bool      // order_by=recent: newest first; else by rank
	Before StreamPos // Recent paging: only events before it (0: none)
	Offset int       // rank paging: results already given
	Limit  int
}

// SearchResult is one matching event and its rank.
type SearchResult struct {
	Event
	Rank float64
}

// SearchTerms splits a search_term into the words the index knows.
func SearchTerms(term string) []string {
	return strings.FieldsFunc(term, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// Search returns a page of matching events, the total count of matches and
// whether more follow.
func (r *Queryer) Search(ctx context.Context, user spec.UserID, q SearchQuery) ([]SearchResult, int, bool, error) {
	if len(q.Terms) == 0 {
		return nil, 0, false, nil
	}
	joined, err := r.JoinedRooms(ctx, user)
	if err != nil {
		return nil, 0, false, err
	}
	if q.RoomIDs != nil {
		joined = slices.DeleteFunc(joined, func(id string) bool { return !slices.Contains(q.RoomIDs, id) })
	}
	if len(joined) == 0 {
		return nil, 0, false, nil
	}
	if _, _, err := r.catchUpSearchIndex(ctx); err != nil {
		return nil, 0, false, err
	}
	quoted := make([]string, len(q.Terms))
	for i, t := range q.Terms {
		quoted[i] = `"` + t + `"`
	}
	args := []any{strings.Join(quoted, " ")}
	for _, id := range joined {
		args = append(args, id)
	}
	where := `event_search MATCH ? AND e.room_id IN (?` + strings.Repeat(",?", len(joined)-1) + `) AND ` + visibleAs("e")
	if q.Keys != nil {
		var types []string
		for _, k := range q.Keys {
			if t, ok := SearchKeys[k]; ok {
				types = append(types, t)
				args = append(args, t)
			}
		}
		if len(types) == 0 {
			return nil, 0, false, nil
		}
		where += ` AND e.type IN (?` + strings.Repeat(",?", len(types)-1) + `)`
	}
	var count int
	if err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM event_search JOIN events e ON e.stream_pos = event_search.rowid WHERE `+where, args...).Scan(&count); err != nil {
		return nil, 0, false, fmt.Errorf("count search matches: %w", err)
	}
	limit := maxSearchCandidates
	if q.Recent {
		if q.Allow == nil {
			limit = q.Limit + 1
		}
		if q.Before > 0 {
			where, args = where+` AND e.stream_pos < ?`, append(args, int64(q.Before))
		}
	}
	rows, err := r.db.Query(ctx, `SELECT e.room_id, e.stream_pos FROM event_search JOIN events e ON e.stream_pos = event_search.rowid
		WHERE `+where+` ORDER BY e.stream_pos DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, 0, false, fmt.Errorf("search: %w", err)
	}
	byRoom := map[string][]int64{}
	var order []string
	for rows.Next() {
		var roomID string
		var pos int64
		if err := rows.Scan(&roomID, &pos); err != nil {
			rows.Close()
			return nil, 0, false, fmt.Errorf("search: %w", err)
		}
		if _, ok := byRoom[roomID]; !ok {
			order = append(order, roomID)
		}
		byRoom[roomID] = append(byRoom[roomID], pos)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("search: %w", err)
	}
	var results []SearchResult
	for _, roomID := range order {
		evs, err := r.eventsAt(ctx, roomID, byRoom[roomID])
		if err != nil {
			return nil, 0, false, err
		}
		access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
		if err != nil {
			return nil, 0, false, err
		}
		if evs, err = r.visibleToUser(ctx, roomID, user, access, evs); err != nil {
			return nil, 0, false, err
		}
		for _, ev := range evs {
			if q.Allow == nil || q.Allow(ev.PDU) {
				results = append(results, SearchResult{Event: ev, Rank: rank(ev, q.Terms)})
			}
		}
	}
	slices.SortStableFunc(results, func(a, b SearchResult) int {
		if !q.Recent && a.Rank != b.Rank {
			if a.Rank > b.Rank {
				return -1
			}
			return 1
		}
		return int(b.Pos - a.Pos)
	})
	if !q.Recent {
		results = results[min(q.Offset, len(results)):]
	}
	more := len(results) > q.Limit
	return results[:min(q.Limit, len(results))], count, more, nil
}

// eventsAt loads a room's events at the given stream positions.
func (r *Queryer) eventsAt(ctx context.Context, roomID string, positions []int64) ([]Event, error) {
	args := []any{roomID}
	for _, p := range positions {
		args = append(args, p)
	}
	return r.query(ctx, roomID, `SELECT stream_pos, event_id, json FROM events WHERE room_id = ? AND stream_pos IN (?`+
		strings.Repeat(",?", len(positions)-1)+`) ORDER BY stream_pos DESC`, args...)
}

// rank is how often the terms occur in an event's text, per word of it.
func rank(ev Event, terms []string) float64 {
	words := SearchTerms(strings.ToLower(searchText(ev.PDU)))
	if len(words) == 0 {
		return 0
	}
	hits := 0
	for _, w := range words {
		for _, t := range terms {
			if w == strings.ToLower(t) {
				hits++
			}
		}
	}
	return float64(hits) / float64(len(words))
}
