//go:build !js

package clientapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hearth/go/server"
	"hearth/go/storage"
)

// fuzzRoutes are the bodies fuzzed through the real handler: index = byte 0 of the input.
var fuzzRoutes = []struct {
	method, path string
	authed       bool
}{
	{"POST", "/_matrix/client/v3/register", false},
	{"POST", "/_matrix/client/v3/login", false},
	{"PUT", "/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}", true},
	{"PUT", "/_matrix/client/v3/rooms/{room}/send/m.room.redaction/{txn}", true},
	{"POST", "/_matrix/client/v3/createRoom", true},
	{"PUT", "/_matrix/client/v3/rooms/{room}/state/m.room.topic", true},
	{"POST", "/_matrix/client/v3/account/password", true},
	{"DELETE", "/_matrix/client/v3/devices/NOPE", true},
	{"POST", "/_matrix/client/v3/keys/upload", true},
	{"PUT", "/_matrix/client/v3/sendToDevice/m.test/{txn}", true},
}

// FuzzClientAPIBodies sends arbitrary bodies to register, login, send,
// createRoom and a few more through the real handler: every answer must be a
// Matrix answer (JSON; an error has an errcode) and never a 500.
func FuzzClientAPIBodies(f *testing.F) {
	for i, seed := range []string{
		`{"username":"fuzz","password":"pw","auth":{"type":"m.login.dummy"}}`,
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"pw","device_id":"D"}`,
		`{"msgtype":"m.text","body":"hi"}`,
		`{"redacts":"$x"}`,
		`{"preset":"public_chat","name":"n","invite":["@a:b"],"initial_state":[{"type":"m.room.topic","content":{"topic":"t"}}],"power_level_content_override":{"users":{"@x:y":1}}}`,
		`{"topic":"t"}`,
		`{"new_password":"x","auth":{"type":"m.login.password","user":"alice","password":"pw"}}`,
		`{"auth":{"type":"m.login.password"}}`,
		`{"device_keys":{"user_id":"@alice:x","device_id":"D","algorithms":[],"keys":{}},"one_time_keys":{"a:b":"c"}}`,
		`{"messages":{"@alice:x":{"*":{"a":1}}}}`,
	} {
		f.Add(byte(i), []byte(seed))
	}
	f.Add(byte(2), []byte(`{"a":`+string(bytes.Repeat([]byte("["), 100))+`}`))

	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(f.TempDir(), "hearth.db"))
	if err != nil {
		f.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{DB: db, BcryptCost: bcrypt.MinCost})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close(); db.Close() })
	call := func(method, path, token string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	var reg struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(call("POST", "/_matrix/client/v3/register", "", []byte(`{"username":"alice","password":"pw","auth":{"type":"m.login.dummy"}}`)).Body.Bytes(), &reg)
	var created struct {
		RoomID string `json:"room_id"`
	}
	json.Unmarshal(call("POST", "/_matrix/client/v3/createRoom", reg.AccessToken, []byte(`{}`)).Body.Bytes(), &created)
	if reg.AccessToken == "" || created.RoomID == "" {
		f.Fatal("setup failed")
	}

	txn := 0
	f.Fuzz(func(t *testing.T, route byte, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		txn++
		path := bytes.ReplaceAll([]byte(r.path), []byte("{room}"), []byte(created.RoomID))
		path = bytes.ReplaceAll(path, []byte("{txn}"), []byte{byte('a' + txn%26), byte('a' + txn/26%26), byte('a' + txn/676%26)})
		token := ""
		if r.authed {
			token = reg.AccessToken
		}
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- call(r.method, string(path), token, body) }()
		var rec *httptest.ResponseRecorder
		select {
		case rec = <-done:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%s %s %q hung:\n%s", r.method, path, body, buf[:n])
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, path, body, rec.Code, rec.Body)
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %s", r.method, path, rec.Body)
		}
		if _, ok := answer["errcode"].(string); rec.Code >= 400 && rec.Code != http.StatusUnauthorized && !ok {
			t.Fatalf("%s %s: error without errcode: %d %s", r.method, path, rec.Code, rec.Body)
		}
	})
}
