//go:build !js

package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hearth/go/media"
	"hearth/go/room"
	"hearth/go/server"
	"hearth/go/storage"
)

// blockingBlobs holds every cold event's store until released, telling
// entered when the first one starts.
type blockingBlobs struct {
	media.BlobStore
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blockingBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	if strings.HasPrefix(key, "event/") {
		b.once.Do(func() { close(b.entered) })
		<-b.release
	}
	return b.BlobStore.Put(ctx, key, r, size)
}

// Close returns only once the cold event mover has stopped: the caller
// closes the database next, under a move half done.
func TestCloseWaitsForTheColdEventMover(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs := &blockingBlobs{BlobStore: media.NewMemoryBlobs(), entered: make(chan struct{}), release: make(chan struct{})}
	srv, err := server.New(ctx, server.Config{DB: db, BcryptCost: bcrypt.MinCost, Blobs: blobs,
		ColdEvents: room.ColdOptions{KeepNewest: 1, Batch: 1, Every: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, token string, body any) map[string]any {
		t.Helper()
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(raw))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK && out["session"] == nil {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return out
	}
	session, _ := do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "alice", "password": "pw"})["session"].(string)
	token, _ := do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "alice", "password": "pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": session}})["access_token"].(string)
	roomID, _ := do("POST", "/_matrix/client/v3/createRoom", token, map[string]any{})["room_id"].(string)
	for _, txn := range []string{"1", "2", "3"} {
		do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+txn, token,
			map[string]any{"msgtype": "m.text", "body": "hello"})
	}
	select {
	case <-blobs.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the cold event mover never stored an event")
	}
	closed := closeInBackground(srv)
	select {
	case <-closed:
		t.Fatal("Close returned while the cold event mover was storing an event")
	case <-time.After(100 * time.Millisecond):
	}
	close(blobs.release)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the cold event mover could end")
	}
}

// closeInBackground calls srv.Close and returns a channel closed once it
// has returned.
func closeInBackground(srv *server.Server) <-chan struct{} {
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	return closed
}

// listedBlobs closes listed when the blobs are first listed: media
// recovery's sweep, the upkeep's first work at start-up.
type listedBlobs struct {
	media.BlobStore
	once   sync.Once
	listed chan struct{}
}

func (b *listedBlobs) Keys(ctx context.Context, prefix string) ([]string, error) {
	b.once.Do(func() { close(b.listed) })
	return b.BlobStore.Keys(ctx, prefix)
}

// recordedTransport fails every request, telling requested at the first.
type recordedTransport struct {
	once      sync.Once
	requested chan struct{}
}

func (r *recordedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.once.Do(func() { close(r.requested) })
	return nil, errors.New("unreachable in this test")
}

// The upkeep, and the outgoing queue's resumption of what waits for other
// servers, start only once UpkeepAfter closes (in the browser they ran
// before JS saw the server ready), and a server closed before that still
// closes.
func TestUpkeepWaitsForUpkeepAfter(t *testing.T) {
	ctx := context.Background()
	type started struct {
		srv       *server.Server
		blobs     *listedBlobs
		transport *recordedTransport
		after     chan struct{}
	}
	start := func(t *testing.T) started {
		db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// A receipt left queued for a server by an earlier run.
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO federation_queue (destination, kind, json) VALUES ('away.example', 'edu', ?)`,
				[]byte(`{"edu_type":"m.receipt","content":{}}`))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		s := started{
			blobs:     &listedBlobs{BlobStore: media.NewMemoryBlobs(), listed: make(chan struct{})},
			transport: &recordedTransport{requested: make(chan struct{})},
			after:     make(chan struct{}),
		}
		s.srv, err = server.New(ctx, server.Config{DB: db, BcryptCost: bcrypt.MinCost, Blobs: s.blobs, Transport: s.transport, UpkeepAfter: s.after})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("held back until closed", func(t *testing.T) {
		s := start(t)
		defer s.srv.Close()
		select {
		case <-s.blobs.listed:
			t.Fatal("media recovery ran before UpkeepAfter closed")
		case <-s.transport.requested:
			t.Fatal("the queue sent before UpkeepAfter closed")
		case <-time.After(100 * time.Millisecond):
		}
		close(s.after)
		for what, done := range map[string]chan struct{}{"media recovery": s.blobs.listed, "the queue": s.transport.requested} {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s never ran after UpkeepAfter closed", what)
			}
		}
	})
	t.Run("closed before it starts", func(t *testing.T) {
		s := start(t)
		closed := closeInBackground(s.srv)
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not return while the upkeep waited to start")
		}
		select {
		case <-s.blobs.listed:
			t.Fatal("media recovery ran after Close")
		case <-s.transport.requested:
			t.Fatal("the queue sent after Close")
		default:
		}
	})
}
