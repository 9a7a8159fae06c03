package mailbox

import (
	"errors"
	"fmt"
)

// The names a refused deposit carries on the wire (js/p2p/errors.js): the
// peer turns each back into its class, and its Go retries on any of them.
const (
	errOrigin           = "MailboxOriginError"
	errFull             = "MailboxFullError"
	errRateLimited      = "MailboxRateLimitedError"
	errTooLarge         = "MailboxTooLargeError"
	errUnknownRecipient = "MailboxUnknownRecipientError"
	errStore            = "MailboxStoreError"
	errBadRequest       = "MailboxBadRequestError"
)

// refusal is an error a peer may read: it goes out as {name, message, retryAfterMs?}.
type refusal struct {
	name    string
	message string
	// retryAfterMs is set (above 0) for MailboxRateLimitedError only.
	retryAfterMs int64
}

func (e *refusal) Error() string { return e.name + ": " + e.message }

func refuse(name, format string, args ...any) *refusal {
	return &refusal{name: name, message: fmt.Sprintf(format, args...)}
}

// wireError is an error as the relay puts it on the wire.
type wireError struct {
	Name         string `json:"name"`
	Message      string `json:"message"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
}

// toWire is mailboxErrorToWire: refusals go out as they are; anything else
// (a database error, whose text says more about the relay than a peer needs)
// goes out as a bare MailboxStoreError, and known says the caller should log it.
func toWire(err error) (wire wireError, known bool) {
	var r *refusal
	if !errors.As(err, &r) {
		return wireError{Name: errStore, Message: "the relay could not store the mail"}, false
	}
	return wireError{Name: r.name, Message: r.message, RetryAfterMs: r.retryAfterMs}, true
}

// protocolError is a peer breaking the framing: it ends that stream.
type protocolError struct{ message string }

func (e *protocolError) Error() string { return e.message }

func protocolErrorf(format string, args ...any) error {
	return &protocolError{message: fmt.Sprintf(format, args...)}
}
