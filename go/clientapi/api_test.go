//go:build !js

// These tests drive a real server over real loopback HTTP, which js/wasm does
// not have; the wasm build runs the room and storage suites on sql.js instead.

package clientapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hearth/go/media"
	"hearth/go/server"
	"hearth/go/storage"
)

// testServer is a real homeserver on a loopback HTTP port, with its database in a temp dir.
type testServer struct {
	t    *testing.T
	url  string
	name string
	path string
	stop func()
}

func startServer(t *testing.T, dbPath string) *testServer {
	return startServerWith(t, dbPath, server.Config{})
}

// startServerWith starts a server with cfg; its DB and bcrypt cost are the test's.
func startServerWith(t *testing.T, dbPath string, cfg server.Config) *testServer {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := media.NewFileBlobs(filepath.Join(filepath.Dir(dbPath), "media"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB, cfg.BcryptCost, cfg.Blobs = db, bcrypt.MinCost, blobs
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	ts := &testServer{t: t, url: hs.URL, name: string(srv.Identity.ServerName), path: dbPath}
	ts.stop = func() { hs.Close(); srv.Close(); db.Close() }
	t.Cleanup(ts.stop)
	return ts
}

func newServer(t *testing.T) *testServer {
	return startServer(t, filepath.Join(t.TempDir(), "hearth.db"))
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r response) str(key string) string { s, _ := r.body[key].(string); return s }

// do sends a request; body may be nil, a string (sent as is) or a value to marshal.
func (ts *testServer) do(method, path, token string, body any) response {
	ts.t.Helper()
	return ts.doHeader(method, path, token, body, nil)
}

// doHeader is do with extra request headers.
func (ts *testServer) doHeader(method, path, token string, body any, header http.Header) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (ts *testServer) expect(r response, status int, errcode string) {
	ts.t.Helper()
	if r.status != status || (errcode != "" && r.str("errcode") != errcode) {
		ts.t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, errcode)
	}
}

// register creates a user through the two-step dummy auth flow and returns its token.
func (ts *testServer) register(user, password string) string {
	ts.t.Helper()
	first := ts.do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": user, "password": password})
	ts.expect(first, 401, "")
	second := ts.do("POST", "/_matrix/client/v3/register", "", map[string]any{
		"username": user, "password": password,
		"auth": map[string]any{"type": "m.login.dummy", "session": first.str("session")},
	})
	ts.expect(second, 200, "")
	if second.str("user_id") != "@"+user+":"+ts.name || second.str("access_token") == "" || second.str("device_id") == "" {
		ts.t.Fatalf("register: %s", second.raw)
	}
	return second.str("access_token")
}

func (ts *testServer) createRoom(token string, body map[string]any) string {
	ts.t.Helper()
	r := ts.do("POST", "/_matrix/client/v3/createRoom", token, body)
	ts.expect(r, 200, "")
	return r.str("room_id")
}

func (ts *testServer) send(token, roomID, txnID, text string) string {
	ts.t.Helper()
	r := ts.do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+txnID, token,
		map[string]any{"msgtype": "m.text", "body": text})
	ts.expect(r, 200, "")
	return r.str("event_id")
}

// r0 is v3's name before spec 1.1: an r0 request is answered as its v3 form
// (served by one route table, httproute.Alias).
func TestR0IsAnsweredAsV3(t *testing.T) {
	ts := newServer(t)
	token := ts.register("alice", "correct horse battery staple")
	roomID := ts.createRoom(token, map[string]any{"room_alias_name": "kitchen", "name": "Kitchen"})
	room := "/rooms/" + url.PathEscape(roomID)
	for _, c := range []struct{ method, path string }{
		{"GET", "/account/whoami"},
		{"GET", "/directory/room/" + url.PathEscape("#kitchen:"+ts.name)},
		{"GET", room + "/state/m.room.name/"},
		{"DELETE", "/account/whoami"}, // a method the route does not have
	} {
		v3 := ts.do(c.method, "/_matrix/client/v3"+c.path, token, nil)
		r0 := ts.do(c.method, "/_matrix/client/r0"+c.path, token, nil)
		// An error's message names the path it was served as.
		same := r0.status == v3.status && r0.str("errcode") == v3.str("errcode") && (r0.status != 200 || bytes.Equal(r0.raw, v3.raw))
		if !same {
			t.Errorf("%s %s: r0 answered %d %s, v3 %d %s", c.method, c.path, r0.status, r0.raw, v3.status, v3.raw)
		}
	}
	// An escaped "/" stays inside its segment (the transaction ID "t/1").
	r := ts.do("PUT", "/_matrix/client/r0"+room+"/send/m.room.message/t%2F1", token, map[string]any{"msgtype": "m.text", "body": "hi"})
	ts.expect(r, 200, "")
	again := ts.do("PUT", "/_matrix/client/v3"+room+"/send/m.room.message/t%2F1", token, map[string]any{"msgtype": "m.text", "body": "hi"})
	if again.str("event_id") != r.str("event_id") {
		t.Errorf("the same transaction ID through v3 made another event: %s, then %s", r.raw, again.raw)
	}
	ts.expect(ts.do("GET", "/_matrix/client/r0/no/such/endpoint", token, nil), 404, "M_UNRECOGNIZED")
}

func TestVersions(t *testing.T) {
	ts := newServer(t)
	r := ts.do("GET", "/_matrix/client/versions", "", nil)
	ts.expect(r, 200, "")
	if vs, _ := r.body["versions"].([]any); len(vs) == 0 {
		t.Fatalf("no versions: %s", r.raw)
	}
	ts.expect(ts.do("GET", "/_matrix/client/v3/no_such_thing", "", nil), 404, "M_UNRECOGNIZED")
	ts.expect(ts.do("GET", "/.well-known/matrix/server", "", nil), 404, "M_NOT_FOUND")
	wk := ts.do("GET", "/.well-known/matrix/client", "", nil)
	if base, _ := wk.body["m.homeserver"].(map[string]any)["base_url"].(string); base != ts.url {
		t.Fatalf("well-known base_url: %s", wk.raw)
	}
}

func TestRegistration(t *testing.T) {
	ts := newServer(t)
	first := ts.do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "alice", "password": "pw"})
	ts.expect(first, 401, "")
	if first.str("session") == "" || !strings.Contains(string(first.raw), "m.login.dummy") {
		t.Fatalf("UIA response: %s", first.raw)
	}
	ts.register("alice", "secret")
	ts.expect(ts.do("GET", "/_matrix/client/v3/register/available?username=alice", "", nil), 400, "M_USER_IN_USE")
	ts.expect(ts.do("GET", "/_matrix/client/v3/register/available?username=bob", "", nil), 200, "")
	ts.expect(ts.do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "alice", "password": "x"}), 400, "M_USER_IN_USE")
	ts.expect(ts.do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "Bad Name!", "password": "x"}), 400, "M_INVALID_USERNAME")
	ts.expect(ts.do("POST", "/_matrix/client/v3/register", "", `{"username": `), 400, "M_NOT_JSON")
	ts.expect(ts.do("POST", "/_matrix/client/v3/register", "", `{"username": 42}`), 400, "M_BAD_JSON")
}

func TestLoginWhoamiLogout(t *testing.T) {
	ts := newServer(t)
	ts.register("alice", "secret")
	flows := ts.do("GET", "/_matrix/client/v3/login", "", nil)
	ts.expect(flows, 200, "")
	if !strings.Contains(string(flows.raw), "m.login.password") {
		t.Fatalf("flows: %s", flows.raw)
	}
	login := func(user, password string) response {
		return ts.do("POST", "/_matrix/client/v3/login", "", map[string]any{
			"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": user}, "password": password,
		})
	}
	ts.expect(login("alice", "wrong"), 403, "M_FORBIDDEN")
	ts.expect(login("nobody", "secret"), 403, "M_FORBIDDEN")
	ok := login("@alice:"+ts.name, "secret")
	ts.expect(ok, 200, "")
	token := ok.str("access_token")

	who := ts.do("GET", "/_matrix/client/v3/account/whoami", token, nil)
	ts.expect(who, 200, "")
	if who.str("user_id") != "@alice:"+ts.name || who.str("device_id") != ok.str("device_id") {
		t.Fatalf("whoami: %s", who.raw)
	}
	ts.expect(ts.do("GET", "/_matrix/client/v3/account/whoami", "", nil), 401, "M_MISSING_TOKEN")
	ts.expect(ts.do("GET", "/_matrix/client/v3/account/whoami", "nonsense", nil), 401, "M_UNKNOWN_TOKEN")
	ts.expect(ts.do("POST", "/_matrix/client/v3/logout", token, nil), 200, "")
	ts.expect(ts.do("GET", "/_matrix/client/v3/account/whoami", token, nil), 401, "M_UNKNOWN_TOKEN")
	ts.expect(ts.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.token"}), 400, "M_UNKNOWN")
}

func TestRoomStateAndSend(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"name": "Kitchen", "topic": "food", "preset": "private_chat"})
	esc := url.PathEscape(roomID)

	name := ts.do("GET", "/_matrix/client/v3/rooms/"+esc+"/state/m.room.name/", alice, nil)
	ts.expect(name, 200, "")
	if name.str("name") != "Kitchen" {
		t.Fatalf("name: %s", name.raw)
	}
	ts.expect(ts.do("PUT", "/_matrix/client/v3/rooms/"+esc+"/state/m.room.topic", alice, map[string]any{"topic": "cooking"}), 200, "")
	if topic := ts.do("GET", "/_matrix/client/v3/rooms/"+esc+"/state/m.room.topic", alice, nil); topic.str("topic") != "cooking" {
		t.Fatalf("topic: %s", topic.raw)
	}
	ts.expect(ts.do("GET", "/_matrix/client/v3/rooms/"+esc+"/state/m.room.avatar/", alice, nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", "/_matrix/client/v3/rooms/"+esc+"/state/m.room.name/", bob, nil), 403, "M_FORBIDDEN")
	ts.expect(ts.do("PUT", "/_matrix/client/v3/rooms/"+esc+"/state/m.room.topic", alice, `["not an object"]`), 400, "M_BAD_JSON")

	first := ts.send(alice, roomID, "txn1", "hello")
	if again := ts.send(alice, roomID, "txn1", "hello"); again != first {
		t.Fatalf("same txnId gave %s then %s", first, again)
	}
	if other := ts.send(alice, roomID, "txn2", "hello"); other == first {
		t.Fatal("a new txnId reused the event ID")
	}
	ts.expect(ts.do("PUT", "/_matrix/client/v3/rooms/"+esc+"/send/m.room.message/t", bob, map[string]any{"body": "x"}), 403, "M_FORBIDDEN")
	ts.expect(ts.do("PUT", "/_matrix/client/v3/rooms/%21nope:x/send/m.room.message/t", alice, map[string]any{"body": "x"}), 404, "M_NOT_FOUND")
	ts.expect(ts.do("PUT", "/_matrix/client/v3/rooms/"+esc+"/send/m.room.message/t3", alice, "{bad"), 400, "M_NOT_JSON")

	joined := ts.do("GET", "/_matrix/client/v3/joined_rooms", alice, nil)
	if rooms, _ := joined.body["joined_rooms"].([]any); len(rooms) != 1 || rooms[0] != roomID {
		t.Fatalf("joined_rooms: %s", joined.raw)
	}
	// Power levels hold: bob joins a public room but may not rename it.
	pub := ts.createRoom(alice, map[string]any{"preset": "public_chat", "name": "Square"})
	ts.expect(ts.do("POST", "/_matrix/client/v3/join/"+url.PathEscape(pub), bob, nil), 200, "")
	ts.expect(ts.do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(pub)+"/state/m.room.name", bob, map[string]any{"name": "mine"}), 403, "M_FORBIDDEN")
	// A private room refuses an uninvited join.
	ts.expect(ts.do("POST", "/_matrix/client/v3/join/"+esc, bob, nil), 403, "M_FORBIDDEN")
}

func TestMessagesPagination(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	roomID := ts.createRoom(alice, map[string]any{"name": "Pages"})
	for i := range 7 {
		ts.send(alice, roomID, fmt.Sprint("t", i), fmt.Sprint("msg ", i))
	}
	base := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages"
	var bodies []string
	from := ""
	for page := 0; page < 20; page++ {
		r := ts.do("GET", base+"?dir=b&limit=3"+from, alice, nil)
		ts.expect(r, 200, "")
		for _, ev := range r.body["chunk"].([]any) {
			e := ev.(map[string]any)
			if e["type"] == "m.room.message" {
				bodies = append(bodies, e["content"].(map[string]any)["body"].(string))
			}
		}
		end := r.str("end")
		if end == "" {
			break
		}
		from = "&from=" + end
	}
	want := "msg 6,msg 5,msg 4,msg 3,msg 2,msg 1,msg 0"
	if got := strings.Join(bodies, ","); got != want {
		t.Fatalf("backwards pages gave %q, want %q", got, want)
	}
	fwd := ts.do("GET", base+"?dir=f&limit=100&from=s0", alice, nil)
	chunk := fwd.body["chunk"].([]any)
	if first := chunk[0].(map[string]any); first["type"] != "m.room.create" {
		t.Fatalf("forward from the start begins with %v", first["type"])
	}
	ts.expect(ts.do("GET", base+"?dir=x", alice, nil), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("GET", base+"?from=garbage", alice, nil), 400, "M_INVALID_PARAM")
}

// timelineBodies returns the message bodies of a room in a sync response.
func timelineBodies(r response, roomID string) []string {
	var out []string
	join, _ := r.body["rooms"].(map[string]any)["join"].(map[string]any)
	rm, _ := join[roomID].(map[string]any)
	if rm == nil {
		return nil
	}
	for _, ev := range rm["timeline"].(map[string]any)["events"].([]any) {
		e := ev.(map[string]any)
		if e["type"] == "m.room.message" {
			out = append(out, e["content"].(map[string]any)["body"].(string))
		}
	}
	return out
}

func TestSync(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"name": "Sync", "invite": []string{"@bob:" + ts.name}})
	ts.send(alice, roomID, "a", "one")

	initial := ts.do("GET", "/_matrix/client/v3/sync", alice, nil)
	ts.expect(initial, 200, "")
	if got := timelineBodies(initial, roomID); len(got) != 1 || got[0] != "one" {
		t.Fatalf("initial sync timeline: %s", initial.raw)
	}
	if !strings.Contains(string(initial.raw), `"m.room.name"`) {
		t.Fatalf("initial sync lacks the room name state: %s", initial.raw)
	}
	since := initial.str("next_batch")

	// Bob sees the invite, accepts it, and the room moves to his joined rooms.
	bobSync := ts.do("GET", "/_matrix/client/v3/sync", bob, nil)
	invites, _ := bobSync.body["rooms"].(map[string]any)["invite"].(map[string]any)
	if _, ok := invites[roomID]; !ok {
		t.Fatalf("bob's sync has no invite: %s", bobSync.raw)
	}
	ts.expect(ts.do("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/join", bob, nil), 200, "")
	ts.send(bob, roomID, "b", "two")

	incr := ts.do("GET", "/_matrix/client/v3/sync?since="+since, alice, nil)
	if got := timelineBodies(incr, roomID); strings.Join(got, ",") != "two" {
		t.Fatalf("incremental sync: %s", incr.raw)
	}
	since = incr.str("next_batch")

	// A long-poll answers once an event arrives, well before its timeout.
	type result struct {
		r       response
		elapsed time.Duration
	}
	done := make(chan result)
	go func() {
		start := time.Now()
		r := ts.do("GET", "/_matrix/client/v3/sync?timeout=15000&since="+since, alice, nil)
		done <- result{r, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond)
	ts.send(bob, roomID, "c", "three")
	res := <-done
	if got := timelineBodies(res.r, roomID); strings.Join(got, ",") != "three" {
		t.Fatalf("long-poll sync: %s", res.r.raw)
	}
	if res.elapsed > 10*time.Second {
		t.Fatalf("long-poll waited for its timeout (%v) instead of answering the event", res.elapsed)
	}
	// An empty long-poll with a short timeout answers empty with the same token.
	empty := ts.do("GET", "/_matrix/client/v3/sync?timeout=50&since="+res.r.str("next_batch"), alice, nil)
	if timelineBodies(empty, roomID) != nil || empty.str("next_batch") != res.r.str("next_batch") {
		t.Fatalf("empty sync: %s", empty.raw)
	}
	ts.expect(ts.do("GET", "/_matrix/client/v3/sync?since=bogus", alice, nil), 400, "M_INVALID_PARAM")
}

// The transaction ID comes back only to the device that sent the event: not
// to the same user's other device, nor to another member.
func TestSyncTransactionID(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	login := ts.do("POST", v3+"/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "pw",
	})
	ts.expect(login, 200, "")
	laptop := login.str("access_token")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", v3+"/join/"+roomID, bob, map[string]any{}), 200, "")
	ts.send(alice, roomID, "my-txn", "hi")
	ts.send(laptop, roomID, "laptop-txn", "from the laptop")
	ts.send(bob, roomID, "bob-txn", "hello")
	for _, device := range []struct {
		name, token string
		want        []string
	}{
		{"alice's first device", alice, []string{"my-txn"}},
		{"alice's laptop", laptop, []string{"laptop-txn"}},
		{"bob", bob, []string{"bob-txn"}},
	} {
		r := ts.do("GET", "/_matrix/client/v3/sync", device.token, nil)
		var got []string
		for _, txnID := range []string{"my-txn", "laptop-txn", "bob-txn"} {
			if strings.Contains(string(r.raw), `"transaction_id":"`+txnID+`"`) {
				got = append(got, txnID)
			}
		}
		if !slices.Equal(got, device.want) {
			t.Errorf("%s's /sync carries transaction IDs %v, want %v: %s", device.name, got, device.want, r.raw)
		}
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hearth.db")
	ts := startServer(t, path)
	alice := ts.register("alice", "pw")
	roomID := ts.createRoom(alice, map[string]any{"name": "Durable"})
	ts.send(alice, roomID, "1", "kept")
	picture := bytes.Repeat([]byte("photo"), 200<<10)
	up := ts.do("POST", "/_matrix/media/v3/upload", alice, string(picture))
	mxc := strings.TrimPrefix(up.str("content_uri"), "mxc://")
	name := ts.name
	ts.stop()

	ts = startServer(t, path)
	if ts.name != name {
		t.Fatalf("server name changed across restart: %s → %s", name, ts.name)
	}
	ts.expect(ts.do("GET", "/_matrix/client/v3/account/whoami", alice, nil), 200, "")
	r := ts.do("GET", "/_matrix/client/v3/sync", alice, nil)
	if got := timelineBodies(r, roomID); strings.Join(got, ",") != "kept" {
		t.Fatalf("after restart: %s", r.raw)
	}
	if dl := ts.do("GET", "/_matrix/client/v1/media/download/"+mxc, alice, nil); !bytes.Equal(dl.raw, picture) {
		t.Fatalf("upload after restart: %d, %d bytes", dl.status, len(dl.raw))
	}
}
