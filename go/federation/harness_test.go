//go:build !js

// The federation tests run several servers in one process, each with its own
// database; under js/wasm a test binary has one sql.js database (hearthStorage),
// so they run natively. The same code paths run in wasm through js/peer tests.

package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	"hearth/go/federation"
	"hearth/go/identity"
	"hearth/go/mailbox"
	"hearth/go/server"
	"hearth/go/storage"
)

// network is several homeservers in one process, federating over the
// in-process transport: the same code paths as over libp2p.
type network struct {
	t   testing.TB
	net *federation.InProcess
	// relay keeps mailboxes for the servers started after it is set (see
	// withRelay); nil: no mailboxes.
	relay *memRelay

	mu    sync.Mutex
	named map[spec.ServerName]*node // guarded by mu
}

// node is one homeserver of a network.
type node struct {
	t    testing.TB
	net  *network
	srv  *server.Server
	name spec.ServerName
}

// fastQueue retries quickly, so that tests of offline peers stay short.
var fastQueue = federation.QueueOptions{Backoff: federation.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}}

func newNetwork(t testing.TB) *network {
	return &network{t: t, net: federation.NewInProcess(), named: map[spec.ServerName]*node{}}
}

// withRelay gives the servers started from now on mailboxes on one relay.
func (n *network) withRelay() *memRelay {
	n.relay = &memRelay{net: n, ttl: time.Hour}
	return n.relay
}

func (n *network) byName(name spec.ServerName) *node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.named[name]
}

func (n *network) node(opts federation.QueueOptions) *node {
	n.t.Helper()
	return n.nodeWith(func(cfg *server.Config) { cfg.Queue = opts })
}

// nodeWith starts a server whose config tweak may change.
func (n *network) nodeWith(tweak func(*server.Config)) *node {
	t := n.t
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DB: db, BcryptCost: bcrypt.MinCost, Transport: n.net.Transport(), Queue: fastQueue}
	var depositor *memDepositor
	if n.relay != nil {
		depositor = &memDepositor{relay: n.relay}
		cfg.Depositor = depositor
	}
	tweak(&cfg)
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); db.Close() })
	x := &node{t: t, net: n, srv: srv, name: srv.Identity.ServerName}
	if depositor != nil {
		depositor.from = x.name // before anything is queued: the server is new
	}
	n.mu.Lock()
	n.named[x.name] = x
	n.mu.Unlock()
	n.net.Register(x.name, srv)
	return x
}

// nodes starts count servers with the fast queue.
func (n *network) nodes(count int) []*node {
	out := make([]*node, count)
	for i := range out {
		out[i] = n.node(fastQueue)
	}
	return out
}

// setOnline connects or disconnects a server. Coming back, it and every
// online server see each other appear (PeerOnline), as the libp2p layer
// reports a peer on the relay, and the relay hands over the mail and notices
// waiting for it.
func (n *network) setOnline(x *node, online bool, all []*node) {
	n.net.SetOnline(x.name, online)
	if !online {
		return
	}
	for _, o := range all {
		if o != x && n.net.Online(o.name) {
			o.srv.Federation.PeerOnline(x.name)
			x.srv.Federation.PeerOnline(o.name)
		}
	}
	if n.relay != nil {
		n.relay.handOver()
	}
}

// memRelay stands in for the relay's mailboxes (js/relay): it keeps what
// servers deposit for each other and hands it over, oldest first, when the
// recipient is online (ReceiveMail), then tells the sender (MailNotice), as
// the relay pushes mail and notices to a present peer.
type memRelay struct {
	net *network

	mu       sync.Mutex
	ttl      time.Duration // how long a deposit is kept
	refuse   error         // when set, deposits fail with it
	attempts int           // deposits tried
	mail     []memMail     // waiting, oldest first
	notices  []memNotice   // waiting for their sender

	handingOver sync.Mutex // one hand-over at a time, so nothing is handed over twice
}

type memMail struct {
	from, to spec.ServerName
	ref      string
	sealed   []byte
}

type memNotice struct {
	sender, to spec.ServerName
	kind, ref  string
}

// memDepositor is one server's way to the relay.
type memDepositor struct {
	relay *memRelay
	from  spec.ServerName
}

func (d *memDepositor) Deposit(ctx context.Context, to spec.ServerName, ref string, sealed []byte) (time.Time, error) {
	r := d.relay
	if !r.net.net.Online(d.from) {
		return time.Time{}, fmt.Errorf("%w: %s is offline", mailbox.ErrNoMailbox, short(d.from))
	}
	r.mu.Lock()
	r.attempts++
	if r.refuse != nil {
		defer r.mu.Unlock()
		return time.Time{}, r.refuse
	}
	if !slices.ContainsFunc(r.mail, func(m memMail) bool { return m.from == d.from && m.to == to && m.ref == ref }) {
		r.mail = append(r.mail, memMail{from: d.from, to: to, ref: ref, sealed: slices.Clone(sealed)})
	}
	expires := time.Now().Add(r.ttl)
	r.mu.Unlock()
	go r.handOver() // new mail for a present recipient is pushed at once
	return expires, nil
}

// set changes the relay's behaviour for the deposits to come.
func (r *memRelay) set(ttl time.Duration, refuse error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ttl, r.refuse = ttl, refuse
}

// held returns the mail waiting, oldest first.
func (r *memRelay) held() []memMail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mail)
}

func (r *memRelay) depositAttempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// expireAll drops every mail unread and tells the senders so.
func (r *memRelay) expireAll() {
	r.mu.Lock()
	for _, m := range r.mail {
		r.notices = append(r.notices, memNotice{sender: m.from, to: m.to, kind: "expired", ref: m.ref})
	}
	r.mail = nil
	r.mu.Unlock()
	r.handOver()
}

// handOver gives the mail and notices waiting for online servers to them.
// What they fail to take stays for later, as unacknowledged mail does.
func (r *memRelay) handOver() {
	r.handingOver.Lock()
	defer r.handingOver.Unlock()
	ctx := context.Background()
	for _, m := range r.held() {
		to := r.net.byName(m.to)
		if to == nil || !r.net.net.Online(m.to) {
			continue
		}
		if err := to.srv.Federation.ReceiveMail(ctx, m.from, m.sealed); err != nil {
			r.net.t.Logf("%s did not take mail %s: %v", short(m.to), m.ref, err)
			continue
		}
		r.mu.Lock()
		r.mail = slices.DeleteFunc(r.mail, func(o memMail) bool { return o.from == m.from && o.to == m.to && o.ref == m.ref })
		r.notices = append(r.notices, memNotice{sender: m.from, to: m.to, kind: "delivered", ref: m.ref})
		r.mu.Unlock()
	}
	r.mu.Lock()
	notices := slices.Clone(r.notices)
	r.mu.Unlock()
	for _, nt := range notices {
		sender := r.net.byName(nt.sender)
		if sender == nil || !r.net.net.Online(nt.sender) {
			continue
		}
		if err := sender.srv.Federation.MailNotice(ctx, nt.kind, nt.to, nt.ref); err != nil {
			continue
		}
		r.mu.Lock()
		r.notices = slices.DeleteFunc(r.notices, func(o memNotice) bool { return o == nt })
		r.mu.Unlock()
	}
}

type user struct {
	node  *node
	id    string
	token string
}

type response struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r response) str(key string) string { s, _ := r.body[key].(string); return s }

// do calls the client API of a node without sockets.
func (x *node) do(method, path, token string, body any) response {
	x.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			x.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	x.srv.ServeHTTP(rec, req)
	resp := response{status: rec.Code, raw: rec.Body.Bytes()}
	_ = json.Unmarshal(resp.raw, &resp.body)
	return resp
}

func (x *node) must(method, path, token string, body any) response {
	x.t.Helper()
	r := x.do(method, path, token, body)
	if r.status != http.StatusOK {
		x.t.Fatalf("%s %s on %s: %d %s", method, path, short(x.name), r.status, r.raw)
	}
	return r
}

func (x *node) register(localpart string) *user {
	x.t.Helper()
	r := x.must("POST", "/_matrix/client/v3/register", "", map[string]any{
		"username": localpart, "password": "correct horse", "auth": map[string]string{"type": "m.login.dummy"},
	})
	return &user{node: x, id: r.str("user_id"), token: r.str("access_token")}
}

func (u *user) do(method, path string, body any) response {
	u.node.t.Helper()
	return u.node.do(method, path, u.token, body)
}

func (u *user) must(method, path string, body any) response {
	u.node.t.Helper()
	return u.node.must(method, path, u.token, body)
}

func (u *user) createRoom(body map[string]any) string {
	u.node.t.Helper()
	return u.must("POST", "/_matrix/client/v3/createRoom", body).str("room_id")
}

func (u *user) join(roomID string, via ...*node) {
	u.node.t.Helper()
	q := url.Values{}
	for _, v := range via {
		q.Add("server_name", string(v.name))
	}
	u.must("POST", "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?"+q.Encode(), map[string]any{})
}

func (u *user) say(roomID, text string) string {
	u.node.t.Helper()
	txn := fmt.Sprintf("t%d", time.Now().UnixNano())
	return u.must("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+txn,
		map[string]any{"msgtype": "m.text", "body": text}).str("event_id")
}

// timeline returns the room's events as /messages shows them, oldest first.
func (u *user) timeline(roomID string) []map[string]any {
	u.node.t.Helper()
	r := u.must("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages?dir=b&limit=1000", nil)
	chunk, _ := r.body["chunk"].([]any)
	var out []map[string]any
	for i := len(chunk) - 1; i >= 0; i-- {
		out = append(out, chunk[i].(map[string]any))
	}
	return out
}

// texts returns the bodies of the room's messages, oldest first.
func (u *user) texts(roomID string) []string {
	var out []string
	for _, ev := range u.timeline(roomID) {
		if ev["type"] == "m.room.message" {
			c, _ := ev["content"].(map[string]any)
			s, _ := c["body"].(string)
			out = append(out, s)
		}
	}
	return out
}

func (u *user) eventIDs(roomID string) []string {
	var out []string
	for _, ev := range u.timeline(roomID) {
		out = append(out, ev["event_id"].(string))
	}
	return out
}

func (u *user) state(roomID, evType, stateKey string) response {
	u.node.t.Helper()
	return u.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/"+evType+"/"+url.PathEscape(stateKey), nil)
}

// eventually polls cond until it holds, failing the test after a bound.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func short(name spec.ServerName) string { return string(name)[:12] }

func hasAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// signedRequest sends a federation request signed by id over the network:
// what another server (honest or not) would send.
func (n *network) signedRequest(id identity.Identity, dest spec.ServerName, method, path string, body any) response {
	n.t.Helper()
	fr := fclient.NewFederationRequest(method, id.ServerName, dest, path)
	if body != nil {
		if err := fr.SetContent(body); err != nil {
			n.t.Fatal(err)
		}
	}
	if err := fr.Sign(id.ServerName, identity.KeyID, id.Key); err != nil {
		n.t.Fatal(err)
	}
	req, err := fr.HTTPRequest()
	if err != nil {
		n.t.Fatal(err)
	}
	return n.send(req)
}

func (n *network) send(req *http.Request) response {
	n.t.Helper()
	req.URL.Scheme = federation.Scheme
	resp, err := n.net.Transport().RoundTrip(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.WarnLevel)
	os.Exit(m.Run())
}

func newRequest(t *testing.T, method string, origin, dest spec.ServerName, path string, body any) fclient.FederationRequest {
	t.Helper()
	fr := fclient.NewFederationRequest(method, origin, dest, path)
	if body != nil {
		if err := fr.SetContent(body); err != nil {
			t.Fatal(err)
		}
	}
	return fr
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
