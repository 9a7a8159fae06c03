package accountdata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/pushrules"
)

// maxCachedRulesets bounds ruleCache: past it the cache starts again empty.
const maxCachedRulesets = 4096

// ruleCache keeps each user's decoded push rules (their m.push_rules
// account data).
//
// Why: every new event is evaluated against the rules of each local member
// of its room (package push), inside the write that stores it. Reading and
// decoding each member's rules for each event was about 5 % of the server's
// CPU with 8 local users sending into one room (hearth-bench's profile),
// all of it spent inside the single writer.
//
// Why it stays right:
//   - Every write of account data goes through Store.putTx, which forgets
//     the user's entry and bumps gen inside the write, before the new rules
//     can be read: no later read in the same or a later write sees the old
//     entry.
//   - A fill is read through a write's transaction and enters the cache only
//     once that write has committed (the keep function of PushRulesTx), and
//     only if gen has not moved since the read: rules read from a write that
//     rolls back, or read before a change, are never cached.
type ruleCache struct {
	mu sync.Mutex
	// gen counts push rules writes; guarded by mu.
	gen uint64
	// users: user ID → their ruleset; guarded by mu. Never modified once
	// stored: callers share it.
	users map[string]pushrules.Ruleset
}

func newRuleCache() *ruleCache { return &ruleCache{users: map[string]pushrules.Ruleset{}} }

// PushRulesTx returns user's push rules (the defaults when none are stored),
// read through tx, a write's transaction, or taken from the cache. The
// ruleset may be shared: callers must not modify it. keep is not nil when
// the rules were read from the database: call it once tx has committed, so
// that the next events find them cached.
func (s *Store) PushRulesTx(ctx context.Context, tx *sql.Tx, user spec.UserID) (rs pushrules.Ruleset, keep func(), err error) {
	c := s.rules
	c.mu.Lock()
	rs, ok := c.users[user.String()]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return rs, nil, nil
	}
	var raw []byte
	err = tx.QueryRowContext(ctx, `SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = ?`,
		user.String(), pushrules.AccountDataType).Scan(&raw)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return pushrules.Ruleset{}, nil, fmt.Errorf("load push rules of %s: %w", user.String(), err)
	}
	rs = pushrules.Decode(raw, user)
	return rs, func() { c.add(gen, user.String(), rs) }, nil
}

// add caches a user's rules read at gen, unless they have changed since.
func (c *ruleCache) add(gen uint64, user string, rs pushrules.Ruleset) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.users) >= maxCachedRulesets {
		clear(c.users)
	}
	c.users[user] = rs
}

// forget drops a user's rules and any fill read before now.
func (c *ruleCache) forget(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.users, user)
}
