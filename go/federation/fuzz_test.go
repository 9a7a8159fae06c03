//go:build !js

package federation_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"

	"hearth/go/identity"
)

// FuzzSendTransaction sends arbitrary transactions, and arbitrary PDUs in
// one, signed by a stranger, through the real federation handler: every
// answer is a Matrix answer, never a 500.
func FuzzSendTransaction(f *testing.F) {
	f.Add(false, []byte(`{"origin":"x","origin_server_ts":1,"pdus":[],"edus":[{"edu_type":"m.presence","content":{"push":[{"user_id":"@a:x","presence":"online"}]}}]}`))
	f.Add(false, []byte(`{"pdus":[{}],"edus":[{"edu_type":"m.direct_to_device","content":{"sender":"@a:x","type":"t","message_id":"m","messages":{"@b:y":{"*":{}}}}}]}`))
	f.Add(true, []byte(`{"type":"m.room.message","room_id":"!r:x","sender":"@a:x","content":{"body":"hi"},"depth":1,"prev_events":[],"auth_events":["$a","$a"],"origin_server_ts":1,"hashes":{"sha256":"x"},"signatures":{}}`))
	f.Add(true, []byte(`{"type":"m.room.member","state_key":"@b:y","room_id":"!r:x","sender":"@a:x","content":{"membership":"invite"}}`))

	n := newNetwork(f)
	target := n.node(fastQueue)
	stranger, err := identity.Generate(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	txn := 0
	f.Fuzz(func(t *testing.T, asPDU bool, raw []byte) {
		if !json.Valid(raw) {
			return // nothing could sign it: X-Matrix covers the parsed body
		}
		body := any(json.RawMessage(raw))
		if asPDU {
			body = map[string]any{"origin": string(stranger.ServerName), "origin_server_ts": 1, "pdus": []json.RawMessage{raw}}
		}
		txn++
		// The harness reports through its t, which must be this iteration's
		// (iterations of one fuzz worker run one after another).
		outer := n.t
		n.t = t
		defer func() { n.t = outer }()
		r := n.signedRequest(stranger, target.name, "PUT", fmt.Sprintf("/_matrix/federation/v1/send/fuzz%d", txn), body)
		if r.status >= 500 {
			t.Fatalf("%d %s for %s", r.status, r.raw, raw)
		}
		if r.body == nil {
			t.Fatalf("answer is not a JSON object: %d %s", r.status, r.raw)
		}
	})
}
