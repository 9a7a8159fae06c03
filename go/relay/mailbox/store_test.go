package mailbox

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The store on its own (no network), as js/relay/mailbox/store.test.js.

var testLimits = storeLimits{ttl: 1000, maxMailsPerRecipient: 3, maxBytesPerRecipient: 100, maxStoreBytes: 150, maxNoticesPerSender: 2}

const t0 = int64(1_800_000_000_000)

func openTestStore(t *testing.T, limits storeLimits) (*store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := openStore(dir, limits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	return st, dir
}

func sized(sender, recipient, ref string, size int) mail {
	return mail{sender: sender, recipient: recipient, ref: ref, sealed: bytes.Repeat([]byte{byte(size)}, size)}
}

func wantRefusal(t *testing.T, err error, name, text string) {
	t.Helper()
	var r *refusal
	if !errors.As(err, &r) || r.name != name || !strings.Contains(r.message, text) {
		t.Fatalf("got %v, want %s saying %q", err, name, text)
	}
}

func refsOf(rows []mailRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.sender+"/"+r.ref)
	}
	return out
}

func TestStoreRepeatsQuotasAndCap(t *testing.T) {
	st, _ := openTestStore(t, testLimits)
	first, err := st.deposit(sized("alice", "bob", "r1", 10), t0)
	if err != nil || first != (deposited{mid: 1, expiresAt: t0 + 1000}) {
		t.Fatalf("first deposit: %+v, %v", first, err)
	}
	again, err := st.deposit(sized("alice", "bob", "r1", 10), t0+5)
	if err != nil || again != (deposited{mid: 1, expiresAt: t0 + 1000, duplicate: true}) {
		t.Fatalf("repeated deposit: %+v, %v", again, err)
	}
	for _, m := range []mail{sized("carol", "bob", "r1", 10), sized("alice", "bob", "r2", 10)} {
		if _, err := st.deposit(m, t0); err != nil {
			t.Fatal(err)
		}
	}
	_, err = st.deposit(sized("alice", "bob", "r3", 10), t0)
	wantRefusal(t, err, errFull, "holds 3 mails")
	_, err = st.deposit(sized("alice", "dave", "r1", 101), t0)
	wantRefusal(t, err, errFull, "bytes")
	if _, err := st.deposit(sized("alice", "dave", "r1", 100), t0); err != nil {
		t.Fatal(err)
	}
	_, err = st.deposit(sized("alice", "erin", "r1", 30), t0)
	wantRefusal(t, err, errFull, "store is full")
	if s, err := st.stats(); err != nil || s != (Stats{Mails: 4, Bytes: 130}) {
		t.Fatalf("stats %+v, %v", s, err)
	}
	rows, err := st.mailFor("bob", 0, 16, t0)
	if err != nil || !slices.Equal(refsOf(rows), []string{"alice/r1", "carol/r1", "alice/r2"}) {
		t.Fatalf("bob's mail %v, %v", refsOf(rows), err)
	}
	if rows, _ := st.mailFor("bob", 1, 1, t0); len(rows) != 1 || rows[0].mid != 2 {
		t.Fatalf("bob's mail after mid 1, one of it: %v", refsOf(rows))
	}
}

func TestStoreAcksTellSendersUpToTheirLimit(t *testing.T) {
	st, _ := openTestStore(t, testLimits)
	for _, ref := range []string{"a", "b", "c"} {
		if _, err := st.deposit(sized("alice", "bob", ref, 1), t0); err != nil {
			t.Fatal(err)
		}
	}
	if told, err := st.ack("mallory", []int64{1, 2}, t0+1); err != nil || len(told) != 0 {
		t.Fatalf("mallory acked bob's mail: %v, %v", told, err)
	}
	if told, err := st.ack("bob", []int64{1, 2, 3, 99}, t0+2); err != nil || !slices.Equal(told, []string{"alice"}) {
		t.Fatalf("told %v, %v", told, err)
	}
	if s, _ := st.stats(); s != (Stats{Notices: 2}) {
		t.Fatalf("stats %+v: want no mail and two notices (the oldest of three dropped)", s)
	}
	notices, err := st.noticesFor("alice", 0, 16)
	if err != nil || len(notices) != 2 {
		t.Fatalf("notices %+v, %v", notices, err)
	}
	for i, ref := range []string{"b", "c"} {
		if n := notices[i]; n.kind != "delivered" || n.recipient != "bob" || n.ref != ref || n.at != t0+2 {
			t.Fatalf("notice %d: %+v", i, n)
		}
	}
	if err := st.ackNotices("bob", []int64{notices[0].nid, notices[1].nid}); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.stats(); s.Notices != 2 {
		t.Fatal("bob acked alice's notices")
	}
	if err := st.ackNotices("alice", []int64{notices[0].nid}); err != nil {
		t.Fatal(err)
	}
	if left, _ := st.noticesFor("alice", 0, 16); len(left) != 1 || left[0].ref != "c" {
		t.Fatalf("left %+v", left)
	}
}

func TestStoreSweepExpiresMailNoticesAndPeers(t *testing.T) {
	st, _ := openTestStore(t, testLimits)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.sawPeer("bob", t0))
	_, err := st.deposit(sized("alice", "bob", "old", 1), t0)
	must(err)
	_, err = st.deposit(sized("alice", "bob", "new", 1), t0+500)
	must(err)
	if known, _ := st.knowsPeer("bob", t0+1000); !known {
		t.Fatal("bob, seen a TTL ago, is not known")
	}
	expired, told, err := st.sweep(t0+1000, nil)
	if err != nil || expired != 1 || !slices.Equal(told, []string{"alice"}) {
		t.Fatalf("sweep: %d, %v, %v", expired, told, err)
	}
	if rows, _ := st.mailFor("bob", 0, 16, t0+1000); !slices.Equal(refsOf(rows), []string{"alice/new"}) {
		t.Fatalf("left %v", refsOf(rows))
	}
	if n, _ := st.noticesFor("alice", 0, 16); len(n) != 1 || n[0].kind != "expired" || n[0].recipient != "bob" || n[0].ref != "old" {
		t.Fatalf("notices %+v", n)
	}
	if rows, _ := st.mailFor("bob", 0, 16, t0+1500); len(rows) != 0 {
		t.Fatal("mail past its TTL is pushed before a sweep")
	}
	expired, _, err = st.sweep(t0+3000, []string{"carol"})
	if err != nil || expired != 1 {
		t.Fatalf("second sweep: %d, %v", expired, err)
	}
	if n, _ := st.noticesFor("alice", 0, 16); len(n) != 1 || n[0].ref != "new" {
		t.Fatalf("notices last twice the TTL: %+v", n)
	}
	if known, _ := st.knowsPeer("bob", t0+3000); known {
		t.Fatal("bob, unseen for a TTL, is still known")
	}
	if known, _ := st.knowsPeer("carol", t0+3000); !known {
		t.Fatal("carol, present at the sweep, is not known")
	}
}

func TestStoreKeepsThePayloadAndTheJavaScriptSchema(t *testing.T) {
	limits := testLimits
	limits.maxBytesPerRecipient, limits.maxStoreBytes = 4096, 4096
	st, dir := openTestStore(t, limits)
	sealed := make([]byte, 1024)
	rand.Read(sealed)
	if _, err := st.deposit(mail{sender: "alice", recipient: "bob", ref: "r", sealed: sealed}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.deposit(mail{sender: "alice", recipient: "bob", ref: "empty"}, t0); err != nil {
		t.Fatalf("an empty payload: %v", err)
	}
	rows, err := st.mailFor("bob", 0, 2, t0)
	if err != nil || len(rows) != 2 || !bytes.Equal(rows[0].sealed, sealed) || len(rows[1].sealed) != 0 {
		t.Fatalf("read back %d rows, %v", len(rows), err)
	}
	if _, err := openStore(dir, limits); err == nil || !strings.Contains(err.Error(), "in use by another relay") {
		t.Fatalf("a second store on the same directory: %v", err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "mailbox.sqlite"))
	if err != nil || !bytes.Contains(file, sealed) {
		t.Fatalf("the sealed bytes are not in mailbox.sqlite, unchanged (%v)", err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "mailbox.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	var journal string
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 1 {
		t.Fatalf("user_version %d, %v", version, err)
	}
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil || journal != "wal" {
		t.Fatalf("journal_mode %q, %v", journal, err)
	}
	var tables []string
	r, err := db.Query("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var name string
		r.Scan(&name)
		tables = append(tables, name)
	}
	r.Close()
	if want := []string{"boxes", "mail", "mail_added", "mail_removed", "notices", "peers", "totals"}; !slices.Equal(tables, want) {
		t.Fatalf("tables and triggers %v, want %v", tables, want)
	}
}

func TestStoreFailedWriteRollsBackAlone(t *testing.T) {
	st, _ := openTestStore(t, testLimits)
	if _, err := st.deposit(sized("alice", "bob", "a", 60), t0); err != nil {
		t.Fatal(err)
	}
	_, err := st.deposit(sized("alice", "bob", "b", 60), t0) // over bob's 100 bytes
	wantRefusal(t, err, errFull, "bytes")
	broken := errors.New("a broken job")
	err = st.write(func(tx *sql.Tx) error {
		if _, err := tx.Exec("INSERT INTO peers (peer, last_seen) VALUES ('dave', 1)"); err != nil {
			return err
		}
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("got %v", err)
	}
	if known, _ := st.knowsPeer("dave", 1); known {
		t.Fatal("a failed write left a row behind")
	}
	if _, err := st.deposit(sized("alice", "bob", "c", 40), t0); err != nil {
		t.Fatal(err)
	}
	if rows, _ := st.mailFor("bob", 0, 16, t0); !slices.Equal(refsOf(rows), []string{"alice/a", "alice/c"}) {
		t.Fatalf("stored %v", refsOf(rows))
	}
}

func TestRateBurstThenOnePerToken(t *testing.T) {
	rate := newRateLimiter(2, 3)
	for i := range 3 {
		if wait := rate.take("alice", t0); wait != 0 {
			t.Fatalf("deposit %d of the burst waits %d ms", i, wait)
		}
	}
	if wait := rate.take("alice", t0); wait != 500 {
		t.Fatalf("past the burst: wait %d, want 500", wait)
	}
	if wait := rate.take("bob", t0); wait != 0 {
		t.Fatal("bob shares alice's bucket")
	}
	if wait := rate.take("alice", t0+250); wait != 250 {
		t.Fatalf("half a token later: wait %d, want 250", wait)
	}
	if wait := rate.take("alice", t0+500); wait != 0 {
		t.Fatalf("a token later: wait %d", wait)
	}
	rate.prune(t0 + 10_000)
	if len(rate.buckets) != 0 {
		t.Fatalf("full buckets kept: %v", rate.buckets)
	}
	for i, want := range []int64{0, 0, 0, 500} {
		if wait := rate.take("alice", t0+10_000); wait != want {
			t.Fatalf("after pruning, deposit %d waits %d, want %d", i, wait, want)
		}
	}
}
