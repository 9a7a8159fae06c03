package pushrules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Evaluation of a ruleset against one event for one user (client-server API
// v1.11, "Push Rules": "Push rules: conditions", "Predefined rules"). The
// first enabled rule whose conditions all hold, in the order override,
// content, room, sender, underride, gives the actions; none matching means
// no notification.

// Room is what conditions need to know about the room and the user the
// rules are evaluated for, at the event.
type Room struct {
	// MemberCount is the number of joined members (room_member_count).
	MemberCount int
	// DisplayName is the user's display name in the room ("" when none:
	// contains_display_name never matches then).
	DisplayName string
	// SenderMayNotify says whether the sender's power level reaches the
	// level the power levels' notifications object names for key (the
	// spec's default: 50) (sender_notification_permission); nil: never. It
	// is called only when a rule gets that far, so it may load lazily.
	SenderMayNotify func(key string) bool
}

// Result is what the matching rule asks for.
type Result struct {
	RuleID    string // "" when no rule matched
	Actions   []any  // the rule's actions, as stored
	Notify    bool   // "notify" is among them
	Highlight bool   // a highlight tweak whose value is not false
}

// legacyMentionRules are the predefined rules a client sets aside when the
// event has m.mentions (spec v1.7: "the legacy mention rules … should not be
// applied to events with an m.mentions property").
var legacyMentionRules = map[string]bool{
	".m.rule.contains_display_name": true,
	".m.rule.roomnotif":             true,
	".m.rule.contains_user_name":    true,
}

// Evaluate runs rs against the event (its whole JSON, as a client or a
// server sees it) for a user in room, and returns what the first matching
// rule says. Malformed rules or conditions never match; they do not fail.
func Evaluate(rs Ruleset, event json.RawMessage, room Room) Result {
	ev, err := ParseEvent(event)
	if err != nil {
		return Result{}
	}
	return ev.Evaluate(rs, room)
}

// Event is an event as conditions read it, prepared once and evaluated for
// each user: decoding and flattening it for every member was most of
// Evaluate's cost.
type Event struct {
	flat        map[string]any // Flatten of the event
	hasMentions bool           // it has content.m.mentions
	roomID      string
	sender      string
}

// ParseEvent prepares an event given as JSON (client or server format).
func ParseEvent(event json.RawMessage) (Event, error) {
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event for push rules: %w", err)
	}
	return NewEvent(ev), nil
}

// NewEvent prepares an event already decoded (JSON objects as
// map[string]any, numbers as float64). Event keeps ev's values: ev must not
// change afterwards.
func NewEvent(ev map[string]any) Event {
	flat := Flatten(ev)
	_, hasMentions := flat[`content.m\.mentions`]
	roomID, _ := ev["room_id"].(string)
	sender, _ := ev["sender"].(string)
	return Event{flat: flat, hasMentions: hasMentions, roomID: roomID, sender: sender}
}

// Evaluate is the package's Evaluate for a prepared event. It does not
// modify the event: one Event serves every user.
func (e Event) Evaluate(rs Ruleset, room Room) Result {
	for _, kind := range Kinds {
		for _, rule := range rs.Global[kind] {
			if !rule.Enabled || (e.hasMentions && legacyMentionRules[rule.RuleID]) {
				continue
			}
			if ruleMatches(kind, rule, e.flat, e.roomID, e.sender, room) {
				return resultOf(rule)
			}
		}
	}
	return Result{}
}

func ruleMatches(kind string, rule Rule, flat map[string]any, roomID, sender string, room Room) bool {
	switch kind {
	case "content":
		body, ok := flat["content.body"].(string)
		return ok && rule.Pattern != "" && globMatches(rule.Pattern, body, true)
	case "room":
		return rule.RuleID == roomID
	case "sender":
		return rule.RuleID == sender
	}
	for _, c := range rule.Conditions {
		if !conditionHolds(c, flat, room) {
			return false
		}
	}
	return true
}

func resultOf(rule Rule) Result {
	r := Result{RuleID: rule.RuleID, Actions: rule.Actions}
	if r.Actions == nil {
		r.Actions = []any{}
	}
	for _, a := range rule.Actions {
		switch a := a.(type) {
		case string:
			if a == "notify" {
				r.Notify = true
			}
		case map[string]any:
			if a["set_tweak"] == "highlight" {
				v, set := a["value"]
				r.Highlight = !set || v != false
			}
		}
	}
	return r
}

// conditionHolds evaluates one condition; unknown kinds never hold (spec:
// "clients and servers must not apply rules with unknown conditions").
func conditionHolds(c map[string]any, flat map[string]any, room Room) bool {
	key, _ := c["key"].(string)
	switch c["kind"] {
	case "event_match":
		pattern, ok := c["pattern"].(string)
		value, isString := flat[key].(string)
		return ok && isString && globMatches(pattern, value, key == "content.body")
	case "event_property_is":
		value, ok := flat[key]
		return ok && sameScalar(value, c["value"])
	case "event_property_contains":
		list, ok := flat[key].([]any)
		if !ok {
			return false
		}
		for _, v := range list {
			if sameScalar(v, c["value"]) {
				return true
			}
		}
		return false
	case "contains_display_name":
		body, ok := flat["content.body"].(string)
		return ok && room.DisplayName != "" && containsWords(room.DisplayName, body)
	case "room_member_count":
		is, _ := c["is"].(string)
		return memberCountMatches(is, room.MemberCount)
	case "sender_notification_permission":
		return key != "" && room.SenderMayNotify != nil && room.SenderMayNotify(key)
	}
	return false
}

// sameScalar compares the scalars event_property_is allows: strings,
// integers, booleans and null. JSON numbers decode as float64 on both sides.
func sameScalar(a, b any) bool {
	switch a.(type) {
	case string, float64, bool, nil:
		return a == b
	}
	return false
}

// memberCountMatches reads room_member_count's is: an integer with an
// optional prefix ==, <, >, >= or <=.
func memberCountMatches(is string, count int) bool {
	op := ""
	for _, p := range []string{"==", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(is, p) {
			op, is = p, is[len(p):]
			break
		}
	}
	n, err := strconv.Atoi(is)
	if err != nil {
		return false
	}
	switch op {
	case "<":
		return count < n
	case ">":
		return count > n
	case "<=":
		return count <= n
	case ">=":
		return count >= n
	}
	return count == n
}

// Flatten turns an event into the dotted keys conditions name: nested
// objects' keys joined with '.', with '.' and '\' inside a key escaped by
// '\' (spec v1.7, "Conditions": `content.m\.relates_to`). Values are the
// leaves: strings, numbers, booleans, null and arrays (kept whole for
// event_property_contains); objects themselves are also kept, so that a key
// naming one is present.
func Flatten(ev map[string]any) map[string]any {
	out := map[string]any{}
	flattenInto(out, "", ev)
	return out
}

var keyEscaper = strings.NewReplacer(`\`, `\\`, `.`, `\.`)

func flattenInto(out map[string]any, prefix string, obj map[string]any) {
	for k, v := range obj {
		key := keyEscaper.Replace(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		out[key] = v
		if inner, ok := v.(map[string]any); ok {
			flattenInto(out, key, inner)
		}
	}
}

// globMatches applies an event_match pattern: '*' any run of characters,
// '?' any one, case-insensitive. Against the whole value, or, when
// wordBoundary (content.body), against any part of it that starts and ends
// at a word boundary: the value's ends or a character not in [A-Za-z0-9_]
// (spec v1.11, "Push Rules", content rules). Every event meets these for
// every member, so the common patterns avoid regular expressions.
func globMatches(pattern, value string, wordBoundary bool) bool {
	if !wordBoundary {
		return globFold([]rune(strings.ToLower(pattern)), []rune(strings.ToLower(value)))
	}
	if !strings.ContainsAny(pattern, "*?") {
		return containsWords(pattern, value)
	}
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*?")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re, err := regexp.Compile(`(?is)(?:^|[^A-Za-z0-9_])` + b.String() + `(?:[^A-Za-z0-9_]|$)`)
	return err == nil && re.MatchString(value)
}

// globFold matches a whole (lower-cased) value against a (lower-cased)
// glob: the classic linear-backtracking wildcard match.
func globFold(pattern, value []rune) bool {
	p, v := 0, 0
	star, mark := -1, 0
	for v < len(value) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == value[v]):
			p++
			v++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, v
			p++
		case star >= 0:
			p = star + 1
			mark++
			v = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// containsWords says whether words occur in value as a whole, at word
// boundaries, case-insensitively (contains_display_name, and content
// patterns without wildcards).
func containsWords(words, value string) bool {
	w, v := strings.ToLower(words), strings.ToLower(value)
	if w == "" {
		return false
	}
	for from := 0; from <= len(v)-len(w); {
		i := strings.Index(v[from:], w)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(w)
		if (start == 0 || !isWordByte(v[start-1])) && (end == len(v) || !isWordByte(v[end])) {
			return true
		}
		from = start + 1
	}
	return false
}

// isWordByte: [A-Za-z0-9_]. Bytes of multi-byte characters are not word
// characters, as in the spec's definition.
func isWordByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
