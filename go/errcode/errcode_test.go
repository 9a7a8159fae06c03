package errcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

var errThing = errors.New("thing")

func TestMatch(t *testing.T) {
	table := []Rule{{errThing, http.StatusNotFound, "M_NOT_FOUND"}}
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("load: %w", errThing), http.StatusNotFound, "M_NOT_FOUND"},
		{fmt.Errorf("wrapped answer: %w", New(http.StatusTeapot, "M_X", "as is")), http.StatusTeapot, "M_X"},
		{fmt.Errorf("sync: %w", context.Canceled), http.StatusServiceUnavailable, "M_UNKNOWN"},
	} {
		got := Match(tc.err, table, Cancelled)
		if got == nil || got.Status != tc.status || got.ErrCode != tc.code {
			t.Errorf("Match(%v) = %+v, want %d %s", tc.err, got, tc.status, tc.code)
		}
	}
	if got := Match(errors.New("other"), table, Cancelled); got != nil {
		t.Errorf("an unknown error matched %+v", got)
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusForbidden, New(http.StatusForbidden, "M_FORBIDDEN", "no"))
	if rec.Code != http.StatusForbidden || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Body.String() != `{"errcode":"M_FORBIDDEN","error":"no"}` {
		t.Fatalf("got %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}
