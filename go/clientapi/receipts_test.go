//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"Threaded read receipts" and §"POST
// /rooms/{roomId}/receipt/{receiptType}/{eventId}": a receipt may carry a
// thread_id ("main" or a thread root's event ID); one receipt per thread is
// kept, /sync shows thread_id in the m.receipt content, and a thread_id that
// is not a non-empty string, is given for m.fully_read, or does not hold
// the event is refused with 400 M_INVALID_PARAM.
func TestThreadedReadReceipts(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := "@bob:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	root := ts.send(alice, roomID, "r", "root")
	inThread := ts.sendContent(alice, roomID, "t1", map[string]any{"msgtype": "m.text", "body": "reply", "m.relates_to": relatesTo("m.thread", root)})
	edit := ts.sendContent(alice, roomID, "e1", map[string]any{"msgtype": "m.text", "body": "* reply!", "m.new_content": map[string]any{"msgtype": "m.text", "body": "reply!"},
		"m.relates_to": relatesTo("m.replace", inThread)})
	mainMsg := ts.send(alice, roomID, "m", "main timeline")
	since := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")
	receipt := func(rt, eventID string, body any) response {
		return ts.do("POST", roomPath(roomID)+"/receipt/"+rt+"/"+url.PathEscape(eventID), bob, body)
	}

	for name, body := range map[string]any{
		"empty thread_id":      map[string]any{"thread_id": ""},
		"number thread_id":     map[string]any{"thread_id": 3},
		"object thread_id":     map[string]any{"thread_id": map[string]any{}},
		"neither main nor $id": map[string]any{"thread_id": "side"},
	} {
		if r := receipt("m.read", mainMsg, body); r.status != 400 || r.str("errcode") != "M_INVALID_PARAM" {
			t.Fatalf("%s: got %d %s, want 400 M_INVALID_PARAM", name, r.status, r.raw)
		}
	}
	ts.expect(receipt("m.fully_read", mainMsg, map[string]any{"thread_id": "main"}), 400, "M_INVALID_PARAM")
	ts.expect(receipt("m.read", inThread, map[string]any{"thread_id": "main"}), 400, "M_INVALID_PARAM")
	ts.expect(receipt("m.read", edit, map[string]any{"thread_id": "main"}), 400, "M_INVALID_PARAM")
	ts.expect(receipt("m.read", mainMsg, map[string]any{"thread_id": root}), 400, "M_INVALID_PARAM")
	ts.expect(receipt("m.read", inThread, map[string]any{"thread_id": mainMsg}), 400, "M_INVALID_PARAM")
	if r := ts.do("GET", v3+"/sync?timeout=0&since="+since, alice, nil); len(ofType(events(r, roomID, "ephemeral"), "m.receipt")) != 0 {
		t.Fatalf("a refused receipt was stored: %s", r.raw)
	}

	// One receipt per thread: the main timeline's, the thread's (its root and
	// an edit in it belong to it too) and an unthreaded one all stay.
	ts.expect(receipt("m.read", root, map[string]any{"thread_id": "main"}), 200, "")
	ts.expect(receipt("m.read", root, map[string]any{"thread_id": root}), 200, "")
	ts.expect(receipt("m.read", edit, map[string]any{"thread_id": root}), 200, "")
	ts.expect(receipt("m.read", inThread, map[string]any{"thread_id": root}), 200, "")
	ts.expect(receipt("m.read", mainMsg, map[string]any{"thread_id": "main"}), 200, "")
	ts.expect(receipt("m.read.private", mainMsg, map[string]any{"thread_id": "main"}), 200, "")
	ts.expect(receipt("m.read", root, map[string]any{}), 200, "")
	ts.expect(receipt("m.read", root, map[string]any{"thread_id": nil}), 200, "") // null: unthreaded

	r := ts.do("GET", v3+"/sync?timeout=0&since="+since, alice, nil)
	rc := ofType(events(r, roomID, "ephemeral"), "m.receipt")
	if len(rc) != 1 {
		t.Fatalf("receipts: %s", r.raw)
	}
	if get(rc[0], "content", inThread, "m.read", bobID, "thread_id") != root ||
		get(rc[0], "content", mainMsg, "m.read", bobID, "thread_id") != "main" ||
		get(rc[0], "content", root, "m.read", bobID, "ts") == nil || get(rc[0], "content", root, "m.read", bobID, "thread_id") != nil {
		t.Fatalf("threaded receipts in /sync: %s", r.raw)
	}
	if get(rc[0], "content", edit) != nil {
		t.Fatalf("the thread's older receipt is still shown: %s", r.raw)
	}
	if get(rc[0], "content", mainMsg, "m.read.private") != nil {
		t.Fatalf("bob's private receipt shown to alice: %s", r.raw)
	}
}
