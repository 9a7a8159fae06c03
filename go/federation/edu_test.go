//go:build !js

package federation_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/server"
)

// edus collects the EDUs a server takes in.
type edus struct {
	mu  sync.Mutex
	got []gomatrixserverlib.EDU
}

func (e *edus) hook(_ spec.ServerName, edu gomatrixserverlib.EDU) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, edu)
}

func (e *edus) of(eduType string) []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []map[string]any
	for _, edu := range e.got {
		if edu.Type == eduType {
			var c map[string]any
			_ = json.Unmarshal(edu.Content, &c)
			out = append(out, c)
		}
	}
	return out
}

// Typing and receipts of a local user reach the room's other servers as
// EDUs through the queue; a server cannot speak for users of another, nor
// for users outside the room, and private receipts stay home.
func TestTypingAndReceiptEDUs(t *testing.T) {
	n := newNetwork(t)
	var atB edus
	a := n.node(fastQueue)
	b := n.nodeWith(func(cfg *server.Config) { cfg.EDU = atB.hook })
	c := n.node(fastQueue)
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	eventID := alice.say(roomID, "read me")
	aliceID, _ := spec.NewUserID(alice.id, true)

	a.srv.Federation.SendTyping(roomID, *aliceID, true, 10*time.Second)
	a.srv.Federation.SendReceipt(roomID, "m.read.private", *aliceID, eventID, "", 1)
	a.srv.Federation.SendReceipt(roomID, "m.read", *aliceID, eventID, "main", 1234)
	eventually(t, "B to get alice's typing and receipt", func() bool {
		return len(atB.of("m.typing")) == 1 && len(atB.of("m.receipt")) == 1
	})
	if ty := atB.of("m.typing")[0]; ty["user_id"] != alice.id || ty["room_id"] != roomID || ty["typing"] != true {
		t.Fatalf("typing EDU: %v", ty)
	}
	r, _ := json.Marshal(atB.of("m.receipt")[0])
	var receipt map[string]map[string]map[string]struct {
		EventIDs []string `json:"event_ids"`
		Data     struct {
			TS       int64
			ThreadID string `json:"thread_id"`
		}
	}
	if err := json.Unmarshal(r, &receipt); err != nil {
		t.Fatal(err)
	}
	if got := receipt[roomID]["m.read"][alice.id]; len(got.EventIDs) != 1 || got.EventIDs[0] != eventID || got.Data.TS != 1234 || got.Data.ThreadID != "main" {
		t.Fatalf("receipt EDU: %s", r)
	}

	// C (not in the room) speaks for alice, and for carol who is not in it.
	forged := func(userID string) map[string]any {
		return map[string]any{"origin": string(c.name), "origin_server_ts": 1, "pdus": []any{}, "edus": []any{
			map[string]any{"edu_type": "m.typing", "content": map[string]any{"room_id": roomID, "user_id": userID, "typing": true}},
		}}
	}
	for i, userID := range []string{alice.id, carol.id} {
		if r := n.signedRequest(c.srv.Identity, b.name, "PUT", "/_matrix/federation/v1/send/forged"+string(rune('0'+i)), forged(userID)); r.status != 200 {
			t.Fatalf("send: %d %s", r.status, r.raw)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if got := atB.of("m.typing"); len(got) != 1 {
		t.Fatalf("B took forged typing: %v", got)
	}
}

// Through the client APIs: alice types and reads on A, bob's /sync on B
// shows both.
func TestTypingAndReceiptsReachOtherServersSync(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	eventID := alice.say(roomID, "read me")
	eventually(t, "bob to get the message", func() bool { return hasAll(bob.texts(roomID), "read me") })

	base := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID)
	r := alice.do("PUT", base+"/typing/"+url.PathEscape(alice.id), map[string]any{"typing": true, "timeout": 20000})
	if r.status == http.StatusNotFound && r.str("errcode") == "M_UNRECOGNIZED" {
		t.Skip("no typing in the client API on this branch yet")
	}
	if r.status != http.StatusOK {
		t.Fatalf("typing: %d %s", r.status, r.raw)
	}
	alice.must("POST", base+"/receipt/m.read/"+url.PathEscape(eventID), map[string]any{})

	eventually(t, "bob's sync to show alice typing and her receipt", func() bool {
		var body struct {
			Rooms struct {
				Join map[string]struct {
					Ephemeral struct {
						Events []struct {
							Type    string         `json:"type"`
							Content map[string]any `json:"content"`
						} `json:"events"`
					} `json:"ephemeral"`
				} `json:"join"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(bob.must("GET", "/_matrix/client/v3/sync", nil).raw, &body); err != nil {
			t.Fatal(err)
		}
		var typing, read bool
		for _, ev := range body.Rooms.Join[roomID].Ephemeral.Events {
			raw, _ := json.Marshal(ev.Content)
			switch ev.Type {
			case "m.typing":
				typing = strings.Contains(string(raw), alice.id)
			case "m.receipt":
				read = strings.Contains(string(raw), eventID) && strings.Contains(string(raw), alice.id)
			}
		}
		return typing && read
	})
}

// A threaded read receipt (client-server API v1.11, "Threaded read
// receipts") keeps its thread_id on its way to another server: in the
// m.receipt EDU's data and in /sync there.
func TestThreadedReceiptReachesOtherServersSync(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	root := alice.say(roomID, "root")
	base := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID)
	reply := alice.must("PUT", base+"/send/m.room.message/thread1", map[string]any{"msgtype": "m.text", "body": "in thread",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root}}).str("event_id")
	alice.must("POST", base+"/receipt/m.read/"+url.PathEscape(reply), map[string]any{"thread_id": root})

	eventually(t, "bob's sync to show alice's receipt in the thread", func() bool {
		raw := bob.must("GET", "/_matrix/client/v3/sync", nil).raw
		var body struct {
			Rooms struct {
				Join map[string]struct {
					Ephemeral struct {
						Events []struct {
							Type    string                                          `json:"type"`
							Content map[string]map[string]map[string]map[string]any `json:"content"`
						} `json:"events"`
					} `json:"ephemeral"`
				} `json:"join"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		for _, ev := range body.Rooms.Join[roomID].Ephemeral.Events {
			if r := ev.Content[reply]["m.read"][alice.id]; ev.Type == "m.receipt" && r != nil {
				if r["thread_id"] != root {
					t.Fatalf("receipt at B lost its thread: %s", raw)
				}
				return true
			}
		}
		return false
	})
}
