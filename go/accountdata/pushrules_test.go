//go:build !js

package accountdata

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/pushrules"
	"hearth/go/storage"
)

// The push rules cache serves what was last committed: a change reaches the
// next read, and rules read before a change are not cached after it, even
// when their write commits first and is slow to say so.
func TestPushRulesCacheNeverServesOldRules(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(db, nil)
	bob := spec.NewUserIDOrPanic("@bob:example.org", true)

	read := func() (pushrules.Ruleset, func()) {
		t.Helper()
		var rs pushrules.Ruleset
		var keep func()
		err := db.Write(ctx, func(tx *sql.Tx) error {
			var err error
			rs, keep, err = s.PushRulesTx(ctx, tx, bob)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rs, keep
	}
	put := func(ruleID string) {
		t.Helper()
		err := s.Update(ctx, bob, "", pushrules.AccountDataType, func(raw json.RawMessage) (json.RawMessage, error) {
			rs := pushrules.Decode(raw, bob)
			if err := rs.Put("override", pushrules.Rule{RuleID: ruleID}); err != nil {
				return nil, err
			}
			return json.Marshal(rs)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	has := func(rs pushrules.Ruleset, ruleID string) bool {
		_, err := rs.Find("override", ruleID)
		return err == nil
	}

	rs, keep := read()
	if keep == nil || has(rs, "first") {
		t.Fatalf("first read: keep %v, rules %v", keep != nil, rs.Global["override"])
	}
	keep()
	if _, keep := read(); keep != nil {
		t.Fatal("second read missed the cache")
	}

	put("first")
	rs, keep = read()
	if keep == nil || !has(rs, "first") {
		t.Fatalf("after a change: keep %v, rules %v", keep != nil, rs.Global["override"])
	}
	put("second") // before the read above is kept
	keep()
	if rs, _ := read(); !has(rs, "second") {
		t.Fatalf("rules read before a change were cached after it: %v", rs.Global["override"])
	}
}
