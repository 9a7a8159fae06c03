package errcode

import (
	"net/http"
	"runtime/debug"

	"github.com/sirupsen/logrus"
)

// Recover answers a request whose handler panicked with 500 M_UNKNOWN and
// logs the panic with its stack. In wasm a panic on any goroutine ends the
// program, and with it the service worker's server for the rest of the
// worker's life; natively net/http would drop the connection unanswered.
// Either way one bad request must cost only its own answer.
func Recover(next http.Handler, log *logrus.Entry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &headerTracker{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			log.WithFields(logrus.Fields{"path": r.URL.Path, "panic": p, "stack": string(debug.Stack())}).Error("handler panicked")
			if !tw.wroteHeader { // else the status is gone: the client sees a cut answer
				WriteJSON(w, http.StatusInternalServerError, Internal())
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// headerTracker notes whether the handler has started its answer.
type headerTracker struct {
	http.ResponseWriter
	wroteHeader bool
}

func (t *headerTracker) WriteHeader(status int) {
	t.wroteHeader = true
	t.ResponseWriter.WriteHeader(status)
}

func (t *headerTracker) Write(b []byte) (int, error) {
	t.wroteHeader = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (Flush, deadlines).
func (t *headerTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }
