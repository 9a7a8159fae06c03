//go:build !js

package clientapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Spec 1.11 §"POST /_matrix/media/v1/create" and §"PUT
// /_matrix/media/v3/upload/{serverName}/{mediaId}": a URI first, its bytes
// later, once and by its creator; downloading it before is 504
// M_NOT_YET_UPLOADED.
func TestAsyncMediaUpload(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	created := ts.do("POST", "/_matrix/media/v1/create", alice, nil)
	ts.expect(created, 200, "")
	uri := created.str("content_uri")
	if !strings.HasPrefix(uri, "mxc://"+ts.name+"/") || created.body["unused_expires_at"] == nil {
		t.Fatalf("create: %s", created.raw)
	}
	serverAndID := strings.TrimPrefix(uri, "mxc://")
	ts.expect(ts.do("GET", "/_matrix/client/v1/media/download/"+serverAndID+"?timeout_ms=0", alice, nil), 504, "M_NOT_YET_UPLOADED")
	ts.expect(ts.do("GET", "/_matrix/client/v1/media/download/"+serverAndID+"?timeout_ms=soon", alice, nil), 400, "M_INVALID_PARAM")
	began := time.Now()
	ts.expect(ts.do("GET", "/_matrix/client/v1/media/thumbnail/"+serverAndID+"?width=32&height=32&timeout_ms=150", alice, nil), 504, "M_NOT_YET_UPLOADED")
	if waited := time.Since(began); waited < 150*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("timeout_ms=150 answered after %v", waited)
	}
	// A download that waits (timeout_ms) gets the bytes once they are uploaded.
	waiting := make(chan response, 1)
	go func() {
		waiting <- ts.do("GET", "/_matrix/client/v1/media/download/"+serverAndID+"?timeout_ms=10000", bob, nil)
	}()
	time.Sleep(100 * time.Millisecond)

	put := func(token, path, body string) response {
		return ts.doHeader("PUT", "/_matrix/media/v3/upload/"+path, token, body, http.Header{"Content-Type": {"text/plain"}})
	}
	ts.expect(put(bob, serverAndID, "not mine"), 403, "M_FORBIDDEN")
	ts.expect(put(alice, ts.name+"/nosuchmedia", "x"), 404, "M_NOT_FOUND")
	ts.expect(put(alice, "other.example/"+strings.TrimPrefix(serverAndID, ts.name+"/"), "x"), 403, "M_FORBIDDEN")
	ts.expect(put(alice, serverAndID, "hello later"), 200, "")
	select {
	case r := <-waiting:
		if r.status != 200 || string(r.raw) != "hello later" {
			t.Fatalf("the waiting download: %d %s", r.status, r.raw)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting download did not end with the upload")
	}
	ts.expect(put(alice, serverAndID, "again"), 409, "M_CANNOT_OVERWRITE_MEDIA")

	got := ts.do("GET", "/_matrix/client/v1/media/download/"+serverAndID, alice, nil)
	ts.expect(got, 200, "")
	if string(got.raw) != "hello later" || got.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("download: %q %s", got.raw, got.header.Get("Content-Type"))
	}
}
