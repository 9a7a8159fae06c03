//go:build !js

package clientapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const v3 = "/_matrix/client/v3"

func roomPath(roomID string) string { return v3 + "/rooms/" + url.PathEscape(roomID) }

// get walks a decoded JSON body along keys (object keys or array indexes as ints).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// events returns the events of a room section of a sync, e.g. "timeline" or "ephemeral".
func events(r response, roomID, section string) []map[string]any {
	var out []map[string]any
	list, _ := get(r.body, "rooms", "join", roomID, section, "events").([]any)
	for _, e := range list {
		out = append(out, e.(map[string]any))
	}
	return out
}

func ofType(evs []map[string]any, t string) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e["type"] == t {
			out = append(out, e)
		}
	}
	return out
}

func (ts *testServer) whoami(token string) string {
	return ts.do("GET", v3+"/account/whoami", token, nil).str("user_id")
}

func TestProfiles(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	aliceID := "@alice:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})

	ts.expect(ts.do("PUT", v3+"/profile/"+aliceID+"/displayname", alice, map[string]any{"displayname": "Alice A."}), 200, "")
	ts.expect(ts.do("PUT", v3+"/profile/"+aliceID+"/avatar_url", alice, map[string]any{"avatar_url": "mxc://x/y"}), 200, "")
	ts.expect(ts.do("PUT", v3+"/profile/"+aliceID+"/displayname", bob, map[string]any{"displayname": "evil"}), 403, "M_FORBIDDEN")
	p := ts.do("GET", v3+"/profile/"+aliceID, "", nil)
	if p.str("displayname") != "Alice A." || p.str("avatar_url") != "mxc://x/y" {
		t.Fatalf("profile: %s", p.raw)
	}
	if d := ts.do("GET", v3+"/profile/"+aliceID+"/displayname", "", nil); d.str("displayname") != "Alice A." {
		t.Fatalf("displayname: %s", d.raw)
	}
	ts.expect(ts.do("GET", v3+"/profile/@nobody:"+ts.name, "", nil), 404, "M_NOT_FOUND")

	// The change reached the room, and a new join carries the joiner's profile.
	member := ts.do("GET", roomPath(roomID)+"/state/m.room.member/"+aliceID, alice, nil)
	if member.str("displayname") != "Alice A." || member.str("avatar_url") != "mxc://x/y" {
		t.Fatalf("member event after profile change: %s", member.raw)
	}
	ts.expect(ts.do("PUT", v3+"/profile/@bob:"+ts.name+"/displayname", bob, map[string]any{"displayname": "Bobby"}), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	found := ts.do("POST", v3+"/user_directory/search", bob, map[string]any{"search_term": "liCE a"})
	if get(found.body, "results", 0, "user_id") != aliceID || get(found.body, "results", 0, "display_name") != "Alice A." {
		t.Fatalf("user directory: %s", found.raw)
	}
	if none := ts.do("POST", v3+"/user_directory/search", bob, map[string]any{"search_term": "%"}); len(none.body["results"].([]any)) != 0 {
		t.Fatalf("%% is a wildcard: %s", none.raw)
	}
	jm := ts.do("GET", roomPath(roomID)+"/joined_members", alice, nil)
	if get(jm.body, "joined", "@bob:"+ts.name, "display_name") != "Bobby" || get(jm.body, "joined", aliceID, "avatar_url") != "mxc://x/y" {
		t.Fatalf("joined_members: %s", jm.raw)
	}
}

func TestAliases(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	alias := "#lobby:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat", "room_alias_name": "lobby"})
	ca := ts.do("GET", roomPath(roomID)+"/state/m.room.canonical_alias/", alice, nil)
	if ca.str("alias") != alias {
		t.Fatalf("canonical alias: %s", ca.raw)
	}
	ts.expect(ts.do("POST", v3+"/createRoom", alice, map[string]any{"room_alias_name": "lobby"}), 409, "")
	res := ts.do("GET", v3+"/directory/room/"+url.PathEscape(alias), "", nil)
	if res.str("room_id") != roomID {
		t.Fatalf("resolve: %s", res.raw)
	}
	join := ts.do("POST", v3+"/join/"+url.PathEscape(alias), bob, nil)
	ts.expect(join, 200, "")
	if join.str("room_id") != roomID {
		t.Fatalf("join by alias: %s", join.raw)
	}
	other := "#other:" + ts.name
	ts.expect(ts.do("PUT", v3+"/directory/room/"+url.PathEscape(other), alice, map[string]any{"room_id": roomID}), 200, "")
	ts.expect(ts.do("PUT", v3+"/directory/room/"+url.PathEscape(other), alice, map[string]any{"room_id": roomID}), 409, "")
	ts.expect(ts.do("PUT", v3+"/directory/room/"+url.PathEscape("#x:elsewhere"), alice, map[string]any{"room_id": roomID}), 400, "M_INVALID_PARAM")
	aliases := ts.do("GET", roomPath(roomID)+"/aliases", bob, nil)
	if got, _ := aliases.body["aliases"].([]any); len(got) != 2 {
		t.Fatalf("aliases: %s", aliases.raw)
	}
	// Bob (power 0) did not create it and may not change the canonical alias.
	ts.expect(ts.do("DELETE", v3+"/directory/room/"+url.PathEscape(other), bob, nil), 403, "M_FORBIDDEN")
	ts.expect(ts.do("DELETE", v3+"/directory/room/"+url.PathEscape(other), alice, nil), 200, "")
	ts.expect(ts.do("GET", v3+"/directory/room/"+url.PathEscape(other), "", nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(other), bob, nil), 404, "M_NOT_FOUND")
}

func TestRedaction(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	mine := ts.send(bob, roomID, "b1", "oops, my password")
	hers := ts.send(alice, roomID, "a1", "hello")
	since := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")

	ts.expect(ts.do("PUT", roomPath(roomID)+"/redact/"+url.PathEscape(hers)+"/r1", bob, map[string]any{}), 403, "M_FORBIDDEN")
	// PUT /send/m.room.redaction is the same request by another path (issue 11, defect 12).
	ts.expect(ts.do("PUT", roomPath(roomID)+"/send/m.room.redaction/s1", bob, map[string]any{"redacts": hers}), 403, "M_FORBIDDEN")
	ts.expect(ts.do("PUT", roomPath(roomID)+"/send/m.room.redaction/s2", bob, map[string]any{}), 400, "M_BAD_JSON")
	red := ts.do("PUT", roomPath(roomID)+"/redact/"+url.PathEscape(mine)+"/r2", bob, map[string]any{"reason": "typo"})
	ts.expect(red, 200, "")
	if again := ts.do("PUT", roomPath(roomID)+"/redact/"+url.PathEscape(mine)+"/r2", bob, map[string]any{}); again.str("event_id") != red.str("event_id") {
		t.Fatalf("retried redaction made a new event: %s", again.raw)
	}
	// Alice (power 100) may redact anyone's event.
	ts.expect(ts.do("PUT", roomPath(roomID)+"/redact/"+url.PathEscape(hers)+"/r3", alice, map[string]any{}), 200, "")
	ts.expect(ts.do("PUT", roomPath(roomID)+"/redact/%24nope/r4", alice, map[string]any{}), 404, "M_NOT_FOUND")

	msgs := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=10", alice, nil)
	var seen int
	for _, e := range msgs.body["chunk"].([]any) {
		ev := e.(map[string]any)
		if ev["event_id"] == mine {
			seen++
			if c := ev["content"].(map[string]any); len(c) != 0 {
				t.Fatalf("redacted event keeps content: %v", ev)
			}
			if get(ev, "unsigned", "redacted_because", "event_id") != red.str("event_id") {
				t.Fatalf("no redacted_because: %v", ev)
			}
		}
		if ev["event_id"] == red.str("event_id") && ev["redacts"] != mine && get(ev, "content", "redacts") != mine {
			t.Fatalf("redaction does not name its target: %v", ev)
		}
	}
	if seen != 1 {
		t.Fatalf("redacted event not in /messages: %s", msgs.raw)
	}
	incr := ts.do("GET", v3+"/sync?since="+since, alice, nil)
	if reds := ofType(events(incr, roomID, "timeline"), "m.room.redaction"); len(reds) != 2 {
		t.Fatalf("sync shows %d redactions: %s", len(reds), incr.raw)
	}
	full := ts.do("GET", v3+"/sync", alice, nil)
	if strings.Contains(string(full.raw), "my password") {
		t.Fatalf("initial sync shows redacted text: %s", full.raw)
	}
}

func TestContextMembersForget(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat", "name": "Ctx"})
	var ids []string
	for i := range 5 {
		ids = append(ids, ts.send(alice, roomID, "t"+string(rune('a'+i)), "m"+string(rune('0'+i))))
	}
	c := ts.do("GET", roomPath(roomID)+"/context/"+url.PathEscape(ids[2])+"?limit=2", alice, nil)
	ts.expect(c, 200, "")
	if get(c.body, "event", "event_id") != ids[2] || get(c.body, "events_before", 0, "event_id") != ids[1] ||
		get(c.body, "events_after", 0, "event_id") != ids[3] || c.str("start") == "" || c.str("end") == "" {
		t.Fatalf("context: %s", c.raw)
	}
	if !strings.Contains(string(c.raw), `"m.room.name"`) {
		t.Fatalf("context lacks state: %s", c.raw)
	}
	// Paging on from the context's end token continues after it.
	more := ts.do("GET", roomPath(roomID)+"/messages?dir=f&from="+c.str("end"), alice, nil)
	if get(more.body, "chunk", 0, "event_id") != ids[4] {
		t.Fatalf("paging from context end: %s", more.raw)
	}
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(ids[0]), alice, nil), 200, "")
	ts.expect(ts.do("GET", roomPath(roomID)+"/context/"+url.PathEscape(ids[0]), bob, nil), 403, "M_FORBIDDEN")

	before := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	count := func(query string) int {
		r := ts.do("GET", roomPath(roomID)+"/members"+query, alice, nil)
		ts.expect(r, 200, "")
		return len(r.body["chunk"].([]any))
	}
	if n := count(""); n != 2 {
		t.Fatalf("%d members now, want 2", n)
	}
	if n := count("?at=" + before); n != 1 {
		t.Fatalf("%d members at the earlier token, want 1", n)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
	if n := count("?not_membership=leave"); n != 1 {
		t.Fatalf("%d members not left, want 1", n)
	}
	if n := count("?membership=leave"); n != 1 {
		t.Fatalf("%d members left, want 1", n)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/forget", alice, nil), 400, "")
	bobSince := ts.do("GET", v3+"/sync", bob, nil).str("next_batch")
	ts.expect(ts.do("POST", roomPath(roomID)+"/forget", bob, nil), 200, "")
	_ = bobSince
}

func TestTypingReceiptsReadMarkers(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := "@bob:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	msg := ts.send(alice, roomID, "m", "read me")
	since := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")

	// Typing wakes a long-poll.
	done := make(chan response)
	go func() { done <- ts.do("GET", v3+"/sync?timeout=10000&since="+since, alice, nil) }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	ts.expect(ts.do("PUT", roomPath(roomID)+"/typing/"+bobID, bob, map[string]any{"typing": true, "timeout": 500}), 200, "")
	r := <-done
	if time.Since(start) > 5*time.Second {
		t.Fatal("typing did not wake the long-poll")
	}
	typing := ofType(events(r, roomID, "ephemeral"), "m.typing")
	if len(typing) != 1 || get(typing[0], "content", "user_ids", 0) != bobID {
		t.Fatalf("typing: %s", r.raw)
	}
	ts.expect(ts.do("PUT", roomPath(roomID)+"/typing/@alice:"+ts.name, bob, map[string]any{"typing": true}), 403, "M_FORBIDDEN")
	// It ends by itself after its timeout.
	r = ts.do("GET", v3+"/sync?timeout=5000&since="+r.str("next_batch"), alice, nil)
	typing = ofType(events(r, roomID, "ephemeral"), "m.typing")
	if len(typing) != 1 || len(get(typing[0], "content", "user_ids").([]any)) != 0 {
		t.Fatalf("typing did not time out: %s", r.raw)
	}

	// A receipt wakes a long-poll too; private receipts stay private.
	since = r.str("next_batch")
	go func() { done <- ts.do("GET", v3+"/sync?timeout=10000&since="+since, alice, nil) }()
	time.Sleep(200 * time.Millisecond)
	ts.expect(ts.do("POST", roomPath(roomID)+"/receipt/m.read/"+url.PathEscape(msg), bob, map[string]any{}), 200, "")
	r = <-done
	rc := ofType(events(r, roomID, "ephemeral"), "m.receipt")
	if len(rc) != 1 || get(rc[0], "content", msg, "m.read", bobID, "ts") == nil {
		t.Fatalf("receipt: %s", r.raw)
	}
	unread := func(token string) any {
		return get(ts.do("GET", v3+"/sync", token, nil).body, "rooms", "join", roomID, "unread_notifications", "notification_count")
	}
	if n := unread(alice); n != 0.0 {
		t.Fatalf("alice has %v unread of her own message", n)
	}
	ts.send(alice, roomID, "m2", "unread one")
	ts.send(alice, roomID, "m3", "unread two")
	if n := unread(bob); n != 2.0 {
		t.Fatalf("bob has %v unread, want 2", n)
	}
	ts.send(bob, roomID, "b1", "replying reads what came before")
	if n := unread(bob); n != 0.0 {
		t.Fatalf("bob has %v unread after writing, want 0", n)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/read_markers", bob, map[string]any{
		"m.fully_read": msg, "m.read.private": msg}), 200, "")
	r = ts.do("GET", v3+"/sync?since="+r.str("next_batch"), alice, nil)
	if strings.Contains(string(r.raw), "m.read.private") {
		t.Fatalf("alice sees bob's private receipt: %s", r.raw)
	}
	bobSync := ts.do("GET", v3+"/sync", bob, nil)
	if fr := ofType(events(bobSync, roomID, "account_data"), "m.fully_read"); len(fr) != 1 || get(fr[0], "content", "event_id") != msg {
		t.Fatalf("fully read marker: %s", bobSync.raw)
	}
	if !strings.Contains(string(bobSync.raw), "m.read.private") {
		t.Fatalf("bob does not see his own private receipt: %s", bobSync.raw)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/receipt/m.bogus/"+url.PathEscape(msg), bob, map[string]any{}), 400, "M_INVALID_PARAM")
}

func TestAccountDataFiltersPushRules(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	aliceID := "@alice:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"name": "Filtered"})
	since := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")

	ts.expect(ts.do("PUT", v3+"/user/"+aliceID+"/account_data/org.example.theme", alice, map[string]any{"dark": true}), 200, "")
	ts.expect(ts.do("PUT", v3+"/user/"+aliceID+"/rooms/"+url.PathEscape(roomID)+"/account_data/m.tag", alice,
		map[string]any{"tags": map[string]any{"m.favourite": map[string]any{}}}), 200, "")
	if g := ts.do("GET", v3+"/user/"+aliceID+"/account_data/org.example.theme", alice, nil); g.body["dark"] != true {
		t.Fatalf("get account data: %s", g.raw)
	}
	ts.expect(ts.do("GET", v3+"/user/"+aliceID+"/account_data/org.example.none", alice, nil), 404, "M_NOT_FOUND")
	r := ts.do("GET", v3+"/sync?since="+since, alice, nil)
	if get(r.body, "account_data", "events", 0, "type") != "org.example.theme" {
		t.Fatalf("global account data in sync: %s", r.raw)
	}
	if tags := ofType(events(r, roomID, "account_data"), "m.tag"); len(tags) != 1 {
		t.Fatalf("room account data in sync: %s", r.raw)
	}

	// Filters: stored, returned, applied by ID and inline.
	for i := range 3 {
		ts.send(alice, roomID, "f"+string(rune('0'+i)), "x")
	}
	f := ts.do("POST", v3+"/user/"+aliceID+"/filter", alice, map[string]any{
		"room": map[string]any{"timeline": map[string]any{"limit": 1}, "state": map[string]any{"lazy_load_members": true}}})
	ts.expect(f, 200, "")
	if g := ts.do("GET", v3+"/user/"+aliceID+"/filter/"+f.str("filter_id"), alice, nil); get(g.body, "room", "timeline", "limit") != 1.0 {
		t.Fatalf("get filter: %s", g.raw)
	}
	ts.expect(ts.do("GET", v3+"/user/"+aliceID+"/filter/99", alice, nil), 404, "M_NOT_FOUND")
	r = ts.do("GET", v3+"/sync?filter="+f.str("filter_id"), alice, nil)
	if tl := events(r, roomID, "timeline"); len(tl) != 1 || get(r.body, "rooms", "join", roomID, "timeline", "limited") != true {
		t.Fatalf("timeline limit: %s", r.raw)
	}
	if members := ofType(events(r, roomID, "state"), "m.room.member"); len(members) != 1 {
		t.Fatalf("lazy-loaded members: %d", len(members))
	}
	if get(r.body, "rooms", "join", roomID, "summary", "m.joined_member_count") != 1.0 {
		t.Fatalf("summary: %s", r.raw)
	}
	inline := url.QueryEscape(`{"room":{"timeline":{"not_types":["m.room.message"]}}}`)
	r = ts.do("GET", v3+"/sync?filter="+inline, alice, nil)
	if len(ofType(events(r, roomID, "timeline"), "m.room.message")) != 0 {
		t.Fatalf("not_types ignored: %s", r.raw)
	}
	ts.expect(ts.do("GET", v3+"/sync?filter=%7Bbad", alice, nil), 400, "M_BAD_JSON")

	// Push rules: the defaults, and edits that stick.
	pr := ts.do("GET", v3+"/pushrules/", alice, nil)
	ts.expect(pr, 200, "")
	for _, kind := range []string{"override", "content", "underride"} {
		if rules, _ := get(pr.body, "global", kind).([]any); len(rules) == 0 {
			t.Fatalf("no default %s rules: %s", kind, pr.raw)
		}
	}
	if get(pr.body, "global", "content", 0, "pattern") != "alice" {
		t.Fatalf("contains_user_name pattern: %s", pr.raw)
	}
	ts.expect(ts.do("PUT", v3+"/pushrules/global/override/.m.rule.master/enabled", alice, map[string]any{"enabled": true}), 200, "")
	if e := ts.do("GET", v3+"/pushrules/global/override/.m.rule.master/enabled", alice, nil); e.body["enabled"] != true {
		t.Fatalf("enabled did not stick: %s", e.raw)
	}
	ts.expect(ts.do("PUT", v3+"/pushrules/global/room/"+url.PathEscape(roomID), alice, map[string]any{"actions": []any{}}), 200, "")
	ts.expect(ts.do("GET", v3+"/pushrules/global/room/"+url.PathEscape(roomID), alice, nil), 200, "")
	ts.expect(ts.do("DELETE", v3+"/pushrules/global/room/"+url.PathEscape(roomID), alice, nil), 200, "")
	ts.expect(ts.do("GET", v3+"/pushrules/global/override/.m.rule.nope/enabled", alice, nil), 404, "M_NOT_FOUND")
	caps := ts.do("GET", v3+"/capabilities", alice, nil)
	if get(caps.body, "capabilities", "m.set_displayname", "enabled") != true {
		t.Fatalf("capabilities: %s", caps.raw)
	}
}

func TestDevicesAndPresence(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	aliceID := "@alice:" + ts.name
	second := ts.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "pw",
		"device_id": "PHONE", "initial_device_display_name": "Phone"})
	ts.expect(second, 200, "")
	list := ts.do("GET", v3+"/devices", alice, nil)
	if devs, _ := list.body["devices"].([]any); len(devs) != 2 {
		t.Fatalf("devices: %s", list.raw)
	}
	if d := ts.do("GET", v3+"/devices/PHONE", alice, nil); d.str("display_name") != "Phone" {
		t.Fatalf("device: %s", d.raw)
	}
	ts.expect(ts.do("PUT", v3+"/devices/PHONE", alice, map[string]any{"display_name": "Old phone"}), 200, "")
	ts.expect(ts.do("GET", v3+"/devices/NOPE", alice, nil), 404, "M_NOT_FOUND")
	uia := ts.do("DELETE", v3+"/devices/PHONE", alice, map[string]any{})
	ts.expect(uia, 401, "")
	ts.expect(ts.do("DELETE", v3+"/devices/PHONE", alice, map[string]any{"auth": map[string]any{"type": "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "pw", "session": uia.str("session")}}), 200, "")
	ts.expect(ts.do("GET", v3+"/account/whoami", second.str("access_token"), nil), 401, "M_UNKNOWN_TOKEN")

	if p := ts.do("GET", v3+"/presence/"+aliceID+"/status", alice, nil); p.str("presence") != "offline" {
		t.Fatalf("initial presence: %s", p.raw)
	}
	ts.expect(ts.do("PUT", v3+"/presence/"+aliceID+"/status", alice, map[string]any{"presence": "online", "status_msg": "hi"}), 200, "")
	if p := ts.do("GET", v3+"/presence/"+aliceID+"/status", alice, nil); p.str("presence") != "online" || p.str("status_msg") != "hi" {
		t.Fatalf("presence: %s", p.raw)
	}
	ts.expect(ts.do("PUT", v3+"/presence/"+aliceID+"/status", alice, map[string]any{"presence": "dancing"}), 400, "M_INVALID_PARAM")
	r := ts.do("GET", v3+"/sync", alice, nil)
	if get(r.body, "presence", "events", 0, "content", "presence") != "online" {
		t.Fatalf("presence in sync: %s", r.raw)
	}
}

func TestMedia(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	png := []byte("\x89PNG\r\n\x1a\nnot really an image")
	upload := func(path, ctype string, body []byte, token string) response {
		req, _ := http.NewRequest("POST", ts.url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		out := response{status: res.StatusCode, header: res.Header, raw: raw}
		_ = json.Unmarshal(raw, &out.body)
		return out
	}
	up := upload("/_matrix/media/v3/upload?filename=cat.png", "image/png", png, alice)
	ts.expect(up, 200, "")
	uri := up.str("content_uri")
	server, mediaID, ok := strings.Cut(strings.TrimPrefix(uri, "mxc://"), "/")
	if !ok || server != ts.name {
		t.Fatalf("content_uri: %s", up.raw)
	}
	ts.expect(upload("/_matrix/media/v3/upload", "image/png", png, ""), 401, "M_MISSING_TOKEN")

	dl := ts.do("GET", "/_matrix/media/v3/download/"+server+"/"+mediaID, "", nil)
	if dl.status != 200 || !bytes.Equal(dl.raw, png) || dl.header.Get("Content-Type") != "image/png" ||
		!strings.Contains(dl.header.Get("Content-Disposition"), "cat.png") {
		t.Fatalf("download: %d %v", dl.status, dl.header)
	}
	// Not a picture that decodes: no thumbnail (go/media tests the real ones).
	ts.expect(ts.do("GET", "/_matrix/media/v3/thumbnail/"+server+"/"+mediaID+"?width=32&height=32", "", nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", "/_matrix/client/v1/media/download/"+server+"/"+mediaID, "", nil), 401, "M_MISSING_TOKEN")
	if v1 := ts.do("GET", "/_matrix/client/v1/media/download/"+server+"/"+mediaID+"/other.png", alice, nil); !bytes.Equal(v1.raw, png) ||
		!strings.Contains(v1.header.Get("Content-Disposition"), "other.png") {
		t.Fatalf("v1 download: %d %v", v1.status, v1.header)
	}
	ts.expect(ts.do("GET", "/_matrix/media/v3/download/"+server+"/nope", "", nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", "/_matrix/media/v3/download/other.server/abc?allow_remote=false", "", nil), 404, "M_NOT_FOUND")
	// No federation transport in this test: the other server is unreachable.
	ts.expect(ts.do("GET", "/_matrix/media/v3/download/other.server/abc", "", nil), 502, "M_UNKNOWN")
	cfg := ts.do("GET", "/_matrix/client/v1/media/config", alice, nil)
	limit, _ := cfg.body["m.upload.size"].(float64)
	if limit <= 0 {
		t.Fatalf("config: %s", cfg.raw)
	}
	ts.expect(upload("/_matrix/media/v3/upload", "application/octet-stream", make([]byte, int(limit)+1), alice), 413, "M_TOO_LARGE")
	// Not an inline-safe type: served as an attachment.
	html := upload("/_matrix/media/v3/upload", "text/html", []byte("<script>alert(1)</script>"), alice)
	_, htmlID, _ := strings.Cut(strings.TrimPrefix(html.str("content_uri"), "mxc://"), "/")
	if h := ts.do("GET", "/_matrix/media/v3/download/"+server+"/"+htmlID, "", nil); !strings.HasPrefix(h.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("html served inline: %v", h.header)
	}
}

func TestKickBanUnban(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := "@bob:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/kick", bob, map[string]any{"user_id": "@alice:" + ts.name}), 403, "M_FORBIDDEN")
	ts.expect(ts.do("POST", roomPath(roomID)+"/kick", alice, map[string]any{"user_id": bobID, "reason": "out"}), 200, "")
	if m := ts.do("GET", roomPath(roomID)+"/state/m.room.member/"+bobID, alice, nil); m.str("membership") != "leave" || m.str("reason") != "out" {
		t.Fatalf("after kick: %s", m.raw)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/ban", alice, map[string]any{"user_id": bobID}), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 403, "M_FORBIDDEN")
	ts.expect(ts.do("POST", roomPath(roomID)+"/unban", alice, map[string]any{"user_id": bobID}), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/unban", alice, map[string]any{"user_id": bobID}), 403, "M_FORBIDDEN")
}

// A server with no events yet hands out a zero token; syncing from it is an
// incremental sync that waits, not an initial one that answers at once.
func TestSyncFromZeroTokenWaits(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	first := ts.do("GET", v3+"/sync", alice, nil)
	start := time.Now()
	ts.do("GET", v3+"/sync?timeout=400&since="+first.str("next_batch"), alice, nil)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("sync from %s answered after %v instead of waiting", first.str("next_batch"), waited)
	}
}

// Concurrent edits of one user's push rules each read and write the whole
// ruleset; none may be lost to another.
func TestPushRuleEditsDoNotLoseEachOther(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	const edits = 12
	var wg sync.WaitGroup
	for i := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := ts.do("PUT", fmt.Sprintf("%s/pushrules/global/room/!r%d:x", v3, i), alice, map[string]any{"actions": []any{}}); r.status != 200 {
				t.Errorf("edit %d: %d %s", i, r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	for i := range edits {
		ts.expect(ts.do("GET", fmt.Sprintf("%s/pushrules/global/room/!r%d:x", v3, i), alice, nil), 200, "")
	}
}
