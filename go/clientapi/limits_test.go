//go:build !js

package clientapi_test

import (
	"strings"
	"testing"
)

// The limits README.md lists under "Limits", and what each bad input gets.
func TestRequestLimits(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	roomID := ts.createRoom(alice, map[string]any{})
	send := func(txn string, body any) response {
		return ts.do("PUT", roomPath(roomID)+"/send/m.room.message/"+txn, alice, body)
	}
	nested := func(levels int) string {
		return `{"body":"[{ in a string }]","a":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}`
	}
	ts.expect(send("t1", nested(62)), 200, "")
	ts.expect(send("t2", nested(64)), 400, "M_BAD_JSON")
	ts.expect(send("t3", nested(20000)), 400, "M_NOT_JSON")
	ts.expect(send("t4", map[string]any{"body": strings.Repeat("x", 70000)}), 413, "M_TOO_LARGE") // an event over 65,536 bytes
	ts.expect(send("t5", map[string]any{"body": strings.Repeat("x", 1<<20)}), 413, "M_TOO_LARGE")
}
