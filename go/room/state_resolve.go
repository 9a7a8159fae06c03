package room

import (
	"context"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// State resolution, auth chains, and the auth events of an event at a state.

// resolve merges state maps with the room version's state resolution
// algorithm (v2 for every version Hearth joins). Identical maps need no work.
func (r *core) resolve(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, states []stateMap) (stateMap, error) {
	if len(states) == 1 {
		return states[0], nil
	}
	ids := map[string]bool{}
	for _, s := range states {
		for _, id := range s {
			ids[id] = true
		}
	}
	conflicted := false
	for k, id := range states[0] {
		for _, s := range states[1:] {
			if s[k] != id {
				conflicted = true
			}
		}
	}
	for _, s := range states[1:] {
		if len(s) != len(states[0]) {
			conflicted = true
		}
	}
	if !conflicted {
		return states[0], nil
	}
	events, err := r.loadEvents(ctx, q, v, keys(ids))
	if err != nil {
		return nil, err
	}
	pdus := make([]gomatrixserverlib.PDU, 0, len(events))
	for _, ev := range events {
		pdus = append(pdus, ev.PDU)
	}
	chain, rejected, err := r.authChainOf(ctx, q, v, pdus)
	if err != nil {
		return nil, err
	}
	resolved, err := gomatrixserverlib.ResolveConflicts(v.Version(), pdus, chain, userIDForSender,
		func(eventID string) bool { return rejected[eventID] })
	if err != nil {
		return nil, fmt.Errorf("resolve state: %w", err)
	}
	out := stateMap{}
	for _, ev := range resolved {
		out[stateKey{ev.Type(), *ev.StateKey()}] = ev.EventID()
	}
	return out, nil
}

// authChain returns every event reachable from ids through auth_events
// (not ids themselves unless reachable), and which of them were rejected.
func (r *core) authChain(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) ([]gomatrixserverlib.PDU, map[string]bool, error) {
	events, err := r.loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, nil, err
	}
	from := make([]gomatrixserverlib.PDU, 0, len(events))
	for _, id := range ids {
		if ev, ok := events[id]; ok {
			from = append(from, ev.PDU)
		}
	}
	return r.authChainOf(ctx, q, v, from)
}

// authChainOf is authChain of events already loaded. The graph is read from
// the events' own auth_events: it is not stored twice.
func (r *core) authChainOf(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, from []gomatrixserverlib.PDU) ([]gomatrixserverlib.PDU, map[string]bool, error) {
	seen := map[string]bool{}
	var chain []gomatrixserverlib.PDU
	rejected := map[string]bool{}
	var frontier []string
	for _, ev := range from {
		frontier = append(frontier, ev.AuthEventIDs()...)
	}
	for len(frontier) > 0 {
		var next []string
		for _, id := range frontier {
			if !seen[id] {
				seen[id] = true
				next = append(next, id)
			}
		}
		events, err := r.loadEvents(ctx, q, v, next)
		if err != nil {
			return nil, nil, err
		}
		frontier = frontier[:0]
		for _, id := range next {
			if ev, ok := events[id]; ok {
				chain = append(chain, ev.PDU)
				rejected[id] = ev.Rejected
				frontier = append(frontier, ev.AuthEventIDs()...)
			}
		}
	}
	return chain, rejected, nil
}

// authEventsAt picks, from a state, the events the auth rules need to
// judge ev, skipping rejected ones.
func (r *core) authEventsAt(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, s *stateAt, ev gomatrixserverlib.PDU) (*gomatrixserverlib.AuthEvents, error) {
	var ids []string
	for _, t := range gomatrixserverlib.StateNeededForAuth([]gomatrixserverlib.PDU{ev}).Tuples() {
		id, err := s.get(ctx, q, stateKey{t.EventType, t.StateKey})
		if err != nil {
			return nil, err
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	return r.authEventsByID(ctx, q, v, ids)
}

// authEventsByID loads events as an auth event set; rejected events are left
// out, so that nothing is ever authorised by a rejected event.
func (r *core) authEventsByID(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) (*gomatrixserverlib.AuthEvents, error) {
	events, err := r.loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, err
	}
	auth, _ := gomatrixserverlib.NewAuthEvents(nil)
	for _, id := range ids {
		ev, ok := events[id]
		if !ok || ev.Rejected {
			continue
		}
		if err := auth.AddEvent(ev.PDU); err != nil {
			return nil, fmt.Errorf("add auth event: %w", err)
		}
	}
	return auth, nil
}
