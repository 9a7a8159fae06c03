// Package pushrules holds the spec's default push rules and the edits a user
// may make to them (client-server API, "Push Rules"). Clients need the rules
// to decide what notifies; matrix-js-sdk will not start without them. The
// server stores the ruleset as the user's m.push_rules account data.
package pushrules

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Sentinel errors; the client API maps each to a Matrix errcode.
var (
	ErrNotFound = errors.New("push rule not found")
	ErrBadRule  = errors.New("invalid push rule")
)

// AccountDataType is the account data type the ruleset is stored as.
const AccountDataType = "m.push_rules"

// Kinds of rules, in the order they are evaluated.
var Kinds = []string{"override", "content", "room", "sender", "underride"}

// Rule is one push rule.
type Rule struct {
	RuleID     string           `json:"rule_id"`
	Default    bool             `json:"default"`
	Enabled    bool             `json:"enabled"`
	Actions    []any            `json:"actions"`
	Conditions []map[string]any `json:"conditions,omitempty"`
	Pattern    string           `json:"pattern,omitempty"`
}

// Ruleset is the body of GET /pushrules/: kind → rules, under "global".
type Ruleset struct {
	Global map[string][]Rule `json:"global"`
}

func eventMatch(key, pattern string) map[string]any {
	return map[string]any{"kind": "event_match", "key": key, "pattern": pattern}
}

func propertyIs(key string, value any) map[string]any {
	return map[string]any{"kind": "event_property_is", "key": key, "value": value}
}

var (
	notify      = []any{"notify"}
	notifySound = []any{"notify", map[string]any{"set_tweak": "sound", "value": "default"}}
	highlight   = []any{"notify", map[string]any{"set_tweak": "sound", "value": "default"}, map[string]any{"set_tweak": "highlight"}}
	ring        = []any{"notify", map[string]any{"set_tweak": "sound", "value": "ring"}}
)

// Defaults returns the spec's predefined rules (v1.11) for user.
func Defaults(user spec.UserID) Ruleset {
	override := []Rule{
		{RuleID: ".m.rule.master", Actions: []any{}},
		{RuleID: ".m.rule.suppress_notices", Enabled: true, Actions: []any{},
			Conditions: []map[string]any{eventMatch("content.msgtype", "m.notice")}},
		{RuleID: ".m.rule.invite_for_me", Enabled: true, Actions: notifySound, Conditions: []map[string]any{
			eventMatch("type", "m.room.member"), eventMatch("content.membership", "invite"), eventMatch("state_key", user.String())}},
		{RuleID: ".m.rule.member_event", Enabled: true, Actions: []any{},
			Conditions: []map[string]any{eventMatch("type", "m.room.member")}},
		{RuleID: ".m.rule.is_user_mention", Enabled: true, Actions: highlight, Conditions: []map[string]any{
			{"kind": "event_property_contains", "key": `content.m\.mentions.user_ids`, "value": user.String()}}},
		{RuleID: ".m.rule.contains_display_name", Enabled: true, Actions: highlight,
			Conditions: []map[string]any{{"kind": "contains_display_name"}}},
		{RuleID: ".m.rule.is_room_mention", Enabled: true, Actions: []any{"notify", map[string]any{"set_tweak": "highlight"}},
			Conditions: []map[string]any{propertyIs(`content.m\.mentions.room`, true),
				{"kind": "sender_notification_permission", "key": "room"}}},
		{RuleID: ".m.rule.roomnotif", Enabled: true, Actions: []any{"notify", map[string]any{"set_tweak": "highlight"}},
			Conditions: []map[string]any{eventMatch("content.body", "@room"), {"kind": "sender_notification_permission", "key": "room"}}},
		{RuleID: ".m.rule.tombstone", Enabled: true, Actions: []any{"notify", map[string]any{"set_tweak": "highlight"}},
			Conditions: []map[string]any{eventMatch("type", "m.room.tombstone"), eventMatch("state_key", "")}},
		{RuleID: ".m.rule.reaction", Enabled: true, Actions: []any{},
			Conditions: []map[string]any{eventMatch("type", "m.reaction")}},
		{RuleID: ".m.rule.room.server_acl", Enabled: true, Actions: []any{},
			Conditions: []map[string]any{eventMatch("type", "m.room.server_acl"), eventMatch("state_key", "")}},
		{RuleID: ".m.rule.suppress_edits", Enabled: true, Actions: []any{},
			Conditions: []map[string]any{propertyIs(`content.m\.relates_to.rel_type`, "m.replace")}},
	}
	content := []Rule{
		{RuleID: ".m.rule.contains_user_name", Enabled: true, Actions: highlight, Pattern: user.Local()},
	}
	underride := []Rule{
		{RuleID: ".m.rule.call", Enabled: true, Actions: ring, Conditions: []map[string]any{eventMatch("type", "m.call.invite")}},
		{RuleID: ".m.rule.encrypted_room_one_to_one", Enabled: true, Actions: notifySound, Conditions: []map[string]any{
			{"kind": "room_member_count", "is": "2"}, eventMatch("type", "m.room.encrypted")}},
		{RuleID: ".m.rule.room_one_to_one", Enabled: true, Actions: notifySound, Conditions: []map[string]any{
			{"kind": "room_member_count", "is": "2"}, eventMatch("type", "m.room.message")}},
		{RuleID: ".m.rule.message", Enabled: true, Actions: notify, Conditions: []map[string]any{eventMatch("type", "m.room.message")}},
		{RuleID: ".m.rule.encrypted", Enabled: true, Actions: notify, Conditions: []map[string]any{eventMatch("type", "m.room.encrypted")}},
	}
	for _, rules := range [][]Rule{override, content, underride} {
		for i := range rules {
			rules[i].Default = true
		}
	}
	return Ruleset{Global: map[string][]Rule{
		"override": override, "content": content, "room": {}, "sender": {}, "underride": underride,
	}}
}

// Decode reads user's stored ruleset (the m.push_rules account data);
// nothing stored, or nothing usable, means the defaults.
func Decode(raw json.RawMessage, user spec.UserID) Ruleset {
	var rs Ruleset
	if raw == nil || json.Unmarshal(raw, &rs) != nil || rs.Global == nil {
		return Defaults(user)
	}
	return rs
}

// Find returns a pointer to a rule in rs, or ErrNotFound.
func (rs Ruleset) Find(kind, ruleID string) (*Rule, error) {
	for i := range rs.Global[kind] {
		if rs.Global[kind][i].RuleID == ruleID {
			return &rs.Global[kind][i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s %s", ErrNotFound, kind, ruleID)
}

// Put adds or replaces a user-defined rule at the front of its kind (the
// spec's default position when neither before nor after is given).
func (rs Ruleset) Put(kind string, rule Rule) error {
	if _, ok := rs.Global[kind]; !ok {
		return fmt.Errorf("%w: unknown kind %q", ErrBadRule, kind)
	}
	if len(rule.RuleID) == 0 || rule.RuleID[0] == '.' {
		return fmt.Errorf("%w: rule IDs starting with '.' are the server's", ErrBadRule)
	}
	rule.Default, rule.Enabled = false, true
	if rule.Actions == nil {
		rule.Actions = []any{}
	}
	rules := rs.Global[kind]
	kept := []Rule{rule}
	for _, r := range rules {
		if r.RuleID != rule.RuleID {
			kept = append(kept, r)
		}
	}
	rs.Global[kind] = kept
	return nil
}

// Delete removes a user-defined rule.
func (rs Ruleset) Delete(kind, ruleID string) error {
	r, err := rs.Find(kind, ruleID)
	if err != nil {
		return err
	}
	if r.Default {
		return fmt.Errorf("%w: default rules cannot be deleted", ErrBadRule)
	}
	kept := []Rule{}
	for _, r := range rs.Global[kind] {
		if r.RuleID != ruleID {
			kept = append(kept, r)
		}
	}
	rs.Global[kind] = kept
	return nil
}
