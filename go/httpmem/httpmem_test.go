package httpmem

import (
	"net/http"
	"testing"
)

func TestServe(t *testing.T) {
	req, _ := http.NewRequest("GET", "/x", nil)
	status, header, body := Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.Write([]byte("hello"))
		w.WriteHeader(http.StatusTeapot) // too late: the first write fixed 200
	}), req)
	if status != http.StatusOK || header.Get("X-Path") != "/x" || string(body) != "hello" {
		t.Fatalf("got %d %v %q", status, header, body)
	}
	status, _, body = Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}), req)
	if status != http.StatusNotFound || len(body) != 0 {
		t.Fatalf("got %d %q", status, body)
	}
	status, _, _ = Serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), req)
	if status != http.StatusOK {
		t.Fatalf("a handler that writes nothing answers 200, got %d", status)
	}
}
