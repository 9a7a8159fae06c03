//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"Filtering" (RoomEventFilter.contains_url) in /sync and
// /messages, and §"Lazy-loading room members": /messages with
// lazy_load_members returns the senders' member events under "state".
func TestContainsURLAndLazyLoadingInMessages(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	ts.send(alice, roomID, "t1", "plain text")
	image := ts.do("PUT", roomPath(roomID)+"/send/m.room.message/t2", bob,
		map[string]any{"msgtype": "m.image", "body": "cat.png", "url": "mxc://" + ts.name + "/cat"})
	ts.expect(image, 200, "")

	withURL := url.QueryEscape(`{"contains_url":true,"lazy_load_members":true}`)
	r := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50&filter="+withURL, alice, nil)
	ts.expect(r, 200, "")
	chunk := r.body["chunk"].([]any)
	if len(chunk) != 1 || get(chunk[0], "event_id") != image.str("event_id") {
		t.Fatalf("contains_url true: %s", r.raw)
	}
	state, _ := r.body["state"].([]any)
	if len(state) != 1 || get(state[0], "state_key") != "@bob:"+ts.name || get(state[0], "type") != "m.room.member" {
		t.Fatalf("lazy-loaded state: %s", r.raw)
	}
	without := url.QueryEscape(`{"contains_url":false,"types":["m.room.message"]}`)
	r = ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50&filter="+without, alice, nil)
	if chunk := r.body["chunk"].([]any); len(chunk) != 1 || get(chunk[0], "content", "body") != "plain text" {
		t.Fatalf("contains_url false: %s", r.raw)
	}
	if _, ok := r.body["state"]; ok {
		t.Fatalf("state without lazy loading: %s", r.raw)
	}
	ts.expect(ts.do("GET", roomPath(roomID)+"/messages?filter=nonsense", alice, nil), 400, "M_BAD_JSON")

	sync := ts.do("GET", v3+"/sync?filter="+url.QueryEscape(`{"room":{"timeline":{"contains_url":true}}}`), alice, nil)
	ts.expect(sync, 200, "")
	if tl := events(sync, roomID, "timeline"); len(tl) != 1 || tl[0]["event_id"] != image.str("event_id") {
		t.Fatalf("sync with contains_url: %s", sync.raw)
	}
}
