// Package errcode is the Matrix error answer (client-server API, "Standard
// error response"; the server-server API uses the same) and the JSON writing
// both HTTP edges share. Each edge — the client API and the federation API —
// keeps its own table of which Go error becomes which errcode; this package is
// the mechanism, so an errcode is still chosen in exactly one place per API.
package errcode

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
)

// Error is an error answer: HTTP status, errcode and a human-readable message.
type Error struct {
	Status  int    `json:"-"`
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
	// RetryAfterMs is set on M_LIMIT_EXCEEDED: when the client may try again.
	RetryAfterMs int64 `json:"retry_after_ms,omitempty"`
	// CurrentVersion is set on M_WRONG_ROOM_KEYS_VERSION: the key backup
	// version that takes keys.
	CurrentVersion string `json:"current_version,omitempty"`
}

func (e *Error) Error() string { return e.ErrCode + ": " + e.Message }

// New returns an error answer.
func New(status int, errcode, message string) *Error {
	return &Error{Status: status, ErrCode: errcode, Message: message}
}

// LimitExceeded is the answer to a request over a rate limit (client-server
// API, "Rate limiting"): 429 M_LIMIT_EXCEEDED with retry_after_ms.
func LimitExceeded(message string, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, ErrCode: "M_LIMIT_EXCEEDED", Message: message,
		RetryAfterMs: max(retryAfter.Milliseconds(), 1)}
}

// Rule maps a sentinel error, matched with errors.Is, to an answer.
type Rule struct {
	Err     error
	Status  int
	ErrCode string
}

// Cancelled covers a request whose context ended: both APIs add these rules.
var Cancelled = []Rule{
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "M_UNKNOWN"},
	{context.Canceled, http.StatusServiceUnavailable, "M_UNKNOWN"},
}

// Match returns err itself if it is (or wraps) an *Error, else the answer of
// the first rule whose sentinel err wraps, else nil.
func Match(err error, rules ...[]Rule) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, table := range rules {
		for _, r := range table {
			if errors.Is(err, r.Err) {
				return New(r.Status, r.ErrCode, err.Error())
			}
		}
	}
	return nil
}

// Internal is the answer to an error no rule covers: its details go to the
// server's log, never to the other side.
func Internal() *Error {
	return New(http.StatusInternalServerError, "M_UNKNOWN", "internal error")
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		logrus.WithError(err).Error("marshal response")
		status, body = http.StatusInternalServerError, []byte(`{"errcode":"M_UNKNOWN","error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// Write answers with e, logging the cause of server-side failures.
func Write(w http.ResponseWriter, r *http.Request, e *Error, cause error, log *logrus.Entry) {
	if e.Status >= 500 {
		log.WithError(cause).WithField("path", r.URL.Path).Error("request failed")
	}
	if e.RetryAfterMs > 0 {
		// Spec 1.10 adds the standard header beside retry_after_ms; whole seconds, rounded up.
		w.Header().Set("Retry-After", strconv.FormatInt((e.RetryAfterMs+999)/1000, 10))
	}
	WriteJSON(w, e.Status, e)
}
