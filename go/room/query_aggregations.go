package room

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Bundle is what the client-server API (v1.11, "Aggregations of child
// events") bundles into an event's unsigned.m.relations: its newest valid
// edit, the events that reference it and a summary of its thread. Annotations
// are not bundled (the spec no longer defines their aggregation).
type Bundle struct {
	Replace    *Event   // newest edit by the original sender, of the same type; nil if none
	References []string // event IDs of m.reference children, oldest first
	Thread     *ThreadSummary
}

// ThreadSummary is the m.thread aggregation of a thread root.
type ThreadSummary struct {
	Latest       Event
	Count        int
	Participated bool // the user sent the root or a reply
}

// Bundles returns the bundles of those of a room's events that have
// children, by event ID, as user sees them.
func (r *Queryer) Bundles(ctx context.Context, user spec.UserID, roomID string, parents []Event) (map[string]Bundle, error) {
	out := map[string]Bundle{}
	if len(parents) == 0 {
		return out, nil
	}
	// How far the user may read, asked only once a child needs checking:
	// most pages (and most /syncs) have none.
	var access *readAccess
	accessOf := func() (readAccess, error) {
		if access == nil {
			a, err := readAccessOf(ctx, reader{r.db}, roomID, user)
			if err != nil {
				return readAccess{}, err
			}
			access = &a
		}
		return *access, nil
	}
	byID := make(map[string]Event, len(parents))
	args := []any{}
	for _, p := range parents {
		if len(args) == maxSQLVars {
			break
		}
		byID[p.EventID()] = p
		args = append(args, p.EventID())
	}
	in := "(?" + strings.Repeat(",?", len(args)-1) + ")"
	// Which kinds of children there are, first: most events have none (a
	// /sync's new message never has), and then that is the only statement,
	// or none when the parents were read with their children's kinds.
	kinds, err := r.relationKinds(ctx, in, args, parents[:len(args)])
	if err != nil {
		return nil, err
	}
	if kinds[RelThread] {
		if err := r.threadSummaries(ctx, user, roomID, accessOf, byID, args, out); err != nil {
			return nil, err
		}
	}
	if !kinds[RelReplace] && !kinds[RelReference] {
		return out, nil
	}
	children, err := r.query(ctx, roomID,
		`SELECT e.stream_pos, e.event_id, e.json FROM event_relations r JOIN events e ON e.event_id = r.event_id
		 WHERE r.relates_to IN `+in+` AND r.rel_type IN ('m.replace', 'm.reference') AND `+visibleAs("e")+`
		 ORDER BY e.stream_pos`, args...)
	if err != nil {
		return nil, err
	}
	if len(children) > 0 {
		a, err := accessOf()
		if err != nil {
			return nil, err
		}
		if children, err = r.visibleToUser(ctx, roomID, user, a, children); err != nil {
			return nil, err
		}
	}
	for _, child := range children {
		rel, _ := relationOf(child)
		parent, ok := byID[rel.EventID]
		if !ok {
			continue
		}
		b := out[rel.EventID]
		switch rel.RelType {
		case RelReplace:
			if child.SenderID() == parent.SenderID() && child.Type() == parent.Type() && parent.StateKey() == nil &&
				(b.Replace == nil || newerEdit(child, *b.Replace)) {
				b.Replace = &child
			}
		case RelReference:
			b.References = append(b.References, child.EventID())
		}
		out[rel.EventID] = b
	}
	return out, nil
}

// relationKinds returns the relation types of the events relating to
// parents, whose IDs are args (in is its "(?,…)"): without a statement when
// every parent was read with its children's kinds (Timeline).
func (r *Queryer) relationKinds(ctx context.Context, in string, args []any, parents []Event) (map[string]bool, error) {
	kinds := map[string]bool{}
	if !slices.ContainsFunc(parents, func(p Event) bool { return !p.kindsRead }) {
		for _, p := range parents {
			for _, kind := range p.childKinds {
				kinds[kind] = true
			}
		}
		return kinds, nil
	}
	rows, err := r.db.Query(ctx, `SELECT DISTINCT rel_type FROM event_relations WHERE relates_to IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("find relations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		if err := rows.Scan(&kind); err != nil {
			return nil, fmt.Errorf("find relations: %w", err)
		}
		kinds[kind] = true
	}
	return kinds, rows.Err()
}

// newerEdit orders edits as the spec asks: by origin_server_ts, then by
// event ID, the greatest winning.
func newerEdit(a, b Event) bool {
	if a.OriginServerTS() != b.OriginServerTS() {
		return a.OriginServerTS() > b.OriginServerTS()
	}
	return a.EventID() > b.EventID()
}

// threadSummaries adds the m.thread summaries of those of the parents that
// are thread roots.
func (r *Queryer) threadSummaries(ctx context.Context, user spec.UserID, roomID string, accessOf func() (readAccess, error), parents map[string]Event, ids []any, out map[string]Bundle) error {
	in := "(?" + strings.Repeat(",?", len(ids)-1) + ")"
	rows, err := r.db.Query(ctx,
		`SELECT r.relates_to, COUNT(*), MAX(e.stream_pos), MAX(json_extract(e.json, '$.sender') = ?)
		 FROM event_relations r JOIN events e ON e.event_id = r.event_id
		 WHERE r.relates_to IN `+in+` AND r.rel_type = 'm.thread' AND `+visibleAs("e")+`
		 GROUP BY r.relates_to`, append([]any{user.String()}, ids...)...)
	if err != nil {
		return fmt.Errorf("summarise threads: %w", err)
	}
	type summary struct {
		count        int
		latest       int64
		participated bool
	}
	found := map[string]summary{}
	for rows.Next() {
		var root string
		var s summary
		if err := rows.Scan(&root, &s.count, &s.latest, &s.participated); err != nil {
			rows.Close()
			return fmt.Errorf("summarise threads: %w", err)
		}
		found[root] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("summarise threads: %w", err)
	}
	for root, s := range found {
		latest, err := r.query(ctx, roomID, `SELECT stream_pos, event_id, json FROM events WHERE stream_pos = ?`, s.latest)
		if err == nil {
			var access readAccess
			if access, err = accessOf(); err == nil {
				latest, err = r.visibleToUser(ctx, roomID, user, access, latest)
			}
		}
		if err != nil {
			return err
		}
		if len(latest) == 0 {
			continue
		}
		b := out[root]
		b.Thread = &ThreadSummary{
			Latest: latest[0], Count: s.count,
			Participated: s.participated || string(parents[root].SenderID()) == user.String(),
		}
		out[root] = b
	}
	return nil
}
