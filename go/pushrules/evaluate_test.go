package pushrules

import (
	"encoding/json"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// The predefined rules (client-server API v1.11, "Predefined rules") for
// @bob, evaluated against events sent by @alice.
func TestEvaluateDefaultRules(t *testing.T) {
	bob, _ := spec.NewUserID("@bob:example.org", true)
	group := Room{MemberCount: 3, DisplayName: "Bobby Tables", SenderMayNotify: func(string) bool { return false }}
	oneToOne := Room{MemberCount: 2, DisplayName: "Bobby Tables"}
	moderator := Room{MemberCount: 3, SenderMayNotify: func(key string) bool { return key == "room" }}
	msg := func(content string) string {
		return `{"type":"m.room.message","room_id":"!r:example.org","sender":"@alice:example.org","content":` + content + `}`
	}
	cases := []struct {
		name      string
		event     string
		room      Room
		rule      string
		notify    bool
		highlight bool
	}{
		{"message in a group", msg(`{"msgtype":"m.text","body":"hello"}`), group, ".m.rule.message", true, false},
		{"message one to one", msg(`{"msgtype":"m.text","body":"hello"}`), oneToOne, ".m.rule.room_one_to_one", true, false},
		{"notice suppressed", msg(`{"msgtype":"m.notice","body":"bot says"}`), group, ".m.rule.suppress_notices", false, false},
		{"user mention", msg(`{"body":"hi","m.mentions":{"user_ids":["@bob:example.org"]}}`), group, ".m.rule.is_user_mention", true, true},
		{"someone else mentioned", msg(`{"body":"hi Bobby Tables","m.mentions":{"user_ids":["@carol:example.org"]}}`), group, ".m.rule.message", true, false},
		{"display name (no m.mentions)", msg(`{"body":"hi bobby tables!"}`), group, ".m.rule.contains_display_name", true, true},
		{"display name inside a word", msg(`{"body":"hi xBobby Tables"}`), group, ".m.rule.message", true, false},
		{"user name (content rule)", msg(`{"body":"ping BOB, please"}`), group, ".m.rule.contains_user_name", true, true},
		{"user name inside a word", msg(`{"body":"bobsled"}`), group, ".m.rule.message", true, false},
		{"room mention by a moderator", msg(`{"body":"all","m.mentions":{"room":true}}`), moderator, ".m.rule.is_room_mention", true, true},
		{"room mention without permission", msg(`{"body":"all","m.mentions":{"room":true}}`), group, ".m.rule.message", true, false},
		{"legacy @room by a moderator", msg(`{"body":"@room look"}`), moderator, ".m.rule.roomnotif", true, true},
		{"legacy @room ignored with m.mentions", msg(`{"body":"@room look","m.mentions":{}}`), moderator, ".m.rule.message", true, false},
		{"edit suppressed", msg(`{"body":"* fixed","m.relates_to":{"rel_type":"m.replace","event_id":"$x"}}`), group, ".m.rule.suppress_edits", false, false},
		{"reaction", `{"type":"m.reaction","sender":"@alice:example.org","content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$x","key":"👍"}}}`, group, ".m.rule.reaction", false, false},
		{"encrypted in a group", `{"type":"m.room.encrypted","sender":"@alice:example.org","content":{"algorithm":"m.megolm.v1.aes-sha2"}}`, group, ".m.rule.encrypted", true, false},
		{"encrypted one to one", `{"type":"m.room.encrypted","sender":"@alice:example.org","content":{}}`, oneToOne, ".m.rule.encrypted_room_one_to_one", true, false},
		{"invite for me", `{"type":"m.room.member","state_key":"@bob:example.org","sender":"@alice:example.org","content":{"membership":"invite"}}`, group, ".m.rule.invite_for_me", true, false},
		{"someone else's join", `{"type":"m.room.member","state_key":"@carol:example.org","sender":"@carol:example.org","content":{"membership":"join"}}`, group, ".m.rule.member_event", false, false},
		{"tombstone", `{"type":"m.room.tombstone","state_key":"","sender":"@alice:example.org","content":{"replacement_room":"!n:example.org"}}`, group, ".m.rule.tombstone", true, true},
		{"call", `{"type":"m.call.invite","sender":"@alice:example.org","content":{}}`, group, ".m.rule.call", true, false},
		{"other type: nothing", `{"type":"org.example.custom","sender":"@alice:example.org","content":{}}`, group, "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(Defaults(*bob), json.RawMessage(c.event), c.room)
			if got.RuleID != c.rule || got.Notify != c.notify || got.Highlight != c.highlight {
				t.Fatalf("got rule %q notify %v highlight %v, want %q %v %v", got.RuleID, got.Notify, got.Highlight, c.rule, c.notify, c.highlight)
			}
		})
	}
}

func TestEvaluateUserRules(t *testing.T) {
	bob, _ := spec.NewUserID("@bob:example.org", true)
	group := Room{MemberCount: 3}
	event := json.RawMessage(`{"type":"m.room.message","room_id":"!quiet:example.org","sender":"@alice:example.org","content":{"body":"the deploy failed","msgtype":"m.text"}}`)

	// The master rule, enabled, silences everything.
	rs := Defaults(*bob)
	master, _ := rs.Find("override", ".m.rule.master")
	master.Enabled = true
	if got := Evaluate(rs, event, group); got.RuleID != ".m.rule.master" || got.Notify {
		t.Fatalf("master: %+v", got)
	}

	// A room rule with no actions mutes the room; a sender rule for another sender does not match.
	rs = Defaults(*bob)
	if err := rs.Put("room", Rule{RuleID: "!quiet:example.org", Actions: []any{}}); err != nil {
		t.Fatal(err)
	}
	if err := rs.Put("sender", Rule{RuleID: "@carol:example.org", Actions: []any{"notify"}}); err != nil {
		t.Fatal(err)
	}
	if got := Evaluate(rs, event, group); got.RuleID != "!quiet:example.org" || got.Notify {
		t.Fatalf("room rule: %+v", got)
	}

	// Content rules glob at word boundaries; they come before room rules.
	if err := rs.Put("content", Rule{RuleID: "deploys", Pattern: "deplo?", Actions: []any{"notify", map[string]any{"set_tweak": "highlight"}}}); err != nil {
		t.Fatal(err)
	}
	if got := Evaluate(rs, event, group); got.RuleID != "deploys" || !got.Highlight {
		t.Fatalf("content rule: %+v", got)
	}

	// A highlight tweak valued false does not highlight; a disabled rule is passed over.
	rs = Defaults(*bob)
	_ = rs.Put("override", Rule{RuleID: "off", Actions: []any{"notify"}, Conditions: []map[string]any{{"kind": "event_match", "key": "type", "pattern": "*"}}})
	off, _ := rs.Find("override", "off")
	off.Enabled = false
	_ = rs.Put("override", Rule{RuleID: "low", Actions: []any{"notify", map[string]any{"set_tweak": "highlight", "value": false}},
		Conditions: []map[string]any{{"kind": "event_match", "key": "content.msgtype", "pattern": "m.*"}}})
	if got := Evaluate(rs, event, group); got.RuleID != "low" || !got.Notify || got.Highlight {
		t.Fatalf("tweak false: %+v", got)
	}
}

func TestConditions(t *testing.T) {
	ev := map[string]any{}
	_ = json.Unmarshal([]byte(`{"type":"m.room.message","content":{"body":"Hello World","n":3,"flag":true,"none":null,
		"m.relates_to":{"rel_type":"m.thread"},"tags":["a","b"],"a\\b":"slash"}}`), &ev)
	flat := Flatten(ev)
	room := Room{MemberCount: 5, SenderMayNotify: func(key string) bool { return key == "room" }}
	cases := []struct {
		name string
		cond map[string]any
		want bool
	}{
		{"event_match whole value", map[string]any{"kind": "event_match", "key": "type", "pattern": "m.room.*"}, true},
		{"event_match is anchored", map[string]any{"kind": "event_match", "key": "type", "pattern": "room"}, false},
		{"event_match ?", map[string]any{"kind": "event_match", "key": "type", "pattern": "m.room.messag?"}, true},
		{"event_match body word", map[string]any{"kind": "event_match", "key": "content.body", "pattern": "world"}, true},
		{"event_match body part of word", map[string]any{"kind": "event_match", "key": "content.body", "pattern": "worl"}, false},
		{"event_match non-string", map[string]any{"kind": "event_match", "key": "content.n", "pattern": "*"}, false},
		{"event_match missing key", map[string]any{"kind": "event_match", "key": "content.nope", "pattern": "*"}, false},
		{"escaped dot", map[string]any{"kind": "event_match", "key": `content.m\.relates_to.rel_type`, "pattern": "m.thread"}, true},
		{"escaped backslash", map[string]any{"kind": "event_match", "key": `content.a\\b`, "pattern": "slash"}, true},
		{"property_is number", map[string]any{"kind": "event_property_is", "key": "content.n", "value": 3.0}, true},
		{"property_is bool", map[string]any{"kind": "event_property_is", "key": "content.flag", "value": true}, true},
		{"property_is null", map[string]any{"kind": "event_property_is", "key": "content.none", "value": nil}, true},
		{"property_is missing is not null", map[string]any{"kind": "event_property_is", "key": "content.nope", "value": nil}, false},
		{"property_is string is exact", map[string]any{"kind": "event_property_is", "key": "content.body", "value": "hello world"}, false},
		{"property_contains", map[string]any{"kind": "event_property_contains", "key": "content.tags", "value": "b"}, true},
		{"property_contains absent value", map[string]any{"kind": "event_property_contains", "key": "content.tags", "value": "c"}, false},
		{"member count ==", map[string]any{"kind": "room_member_count", "is": "5"}, true},
		{"member count <", map[string]any{"kind": "room_member_count", "is": "<5"}, false},
		{"member count >=", map[string]any{"kind": "room_member_count", "is": ">=5"}, true},
		{"member count bad", map[string]any{"kind": "room_member_count", "is": "lots"}, false},
		{"sender permission", map[string]any{"kind": "sender_notification_permission", "key": "room"}, true},
		{"sender permission for another key", map[string]any{"kind": "sender_notification_permission", "key": "other"}, false},
		{"sender permission without key", map[string]any{"kind": "sender_notification_permission"}, false},
		{"unknown kind", map[string]any{"kind": "org.example.future"}, false},
	}
	for _, c := range cases {
		if got := conditionHolds(c.cond, flat, room); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// One member's default rules against a plain group message (the common
// case: it falls through to .m.rule.message, so every rule is tried).
func BenchmarkEvaluateDefaultRules(b *testing.B) {
	bob, _ := spec.NewUserID("@bob:example.org", true)
	rs := Defaults(*bob)
	event := json.RawMessage(`{"type":"m.room.message","room_id":"!r:example.org","sender":"@alice:example.org","content":{"msgtype":"m.text","body":"hello there, how is everyone doing today?"}}`)
	room := Room{MemberCount: 5, DisplayName: "Bobby"}
	for b.Loop() {
		if r := Evaluate(rs, event, room); r.RuleID != ".m.rule.message" {
			b.Fatal(r.RuleID)
		}
	}
}

func TestGlobMatches(t *testing.T) {
	cases := []struct {
		pattern, value string
		wordBoundary   bool
		want           bool
	}{
		{"m.room.*", "m.room.message", false, true},
		{"m.*.mess*", "M.ROOM.MESSAGE", false, true},
		{"*", "", false, true},
		{"?", "", false, false},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"café", "CAFÉ", false, true},
		{"bob", "hi Bob!", true, true},
		{"bob", "bobsled", true, false},
		{"bob", "bob_x", true, false},
		{"bob", "x-bob", true, true},
		{"b?b", "hey bub", true, true},
		{"dep*", "the deploy failed", true, true},
		{"dep*d", "the deploy failed", true, true},
		{"dep*x", "the deploy failed", true, false},
		{"", "anything", true, false},
	}
	for _, c := range cases {
		if got := globMatches(c.pattern, c.value, c.wordBoundary); got != c.want {
			t.Errorf("globMatches(%q, %q, %v) = %v, want %v", c.pattern, c.value, c.wordBoundary, got, c.want)
		}
	}
}
