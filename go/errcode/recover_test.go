package errcode

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// Issue 11, defect 13: a panicking handler becomes a 500 M_UNKNOWN, logged.
func TestRecoverAnswersPanicsWith500(t *testing.T) {
	logger, hook := test.NewNullLogger()
	h := Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]int
		m["boom"]++ // nil map: panics
	}), logrus.NewEntry(logger))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/_matrix/client/v3/sync", nil))
	var body Error
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 500 || body.ErrCode != "M_UNKNOWN" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if e := hook.LastEntry(); e == nil || e.Level != logrus.ErrorLevel || e.Data["stack"] == nil {
		t.Fatalf("panic not logged with its stack: %v", hook.AllEntries())
	}

	// A handler that already answered keeps its status.
	h = Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		panic("late")
	}), logrus.NewEntry(logger))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("status rewritten after the answer began: %d", rec.Code)
	}
}
