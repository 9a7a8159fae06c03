//go:build !js

package clientapi_test

import (
	"strings"
	"testing"
)

// Spec 1.11 §"Size limits" (an event is at most 65,536 bytes: 413
// M_TOO_LARGE, for state as for messages: see TestRequestLimits) and §"API standards" (JSON in UTF-8: invalid bytes are 400
// M_NOT_JSON).
func TestOversizedEventsAndInvalidUTF8(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	roomID := ts.createRoom(alice, nil)
	ts.expect(ts.do("PUT", roomPath(roomID)+"/state/m.room.topic", alice, map[string]any{"topic": strings.Repeat("y", 70000)}), 413, "M_TOO_LARGE")
	ts.expect(ts.do("PUT", roomPath(roomID)+"/send/m.room.message/bad", alice, "{\"msgtype\":\"m.text\",\"body\":\"\xff\xfe\"}"), 400, "M_NOT_JSON")
	ts.send(alice, roomID, "ok", "still fine")
}
