package mailbox

import "errors"

// Sentinel errors. A Depositor's refusals all mean "keep the request and try
// again later"; they differ in what a person is told.
var (
	// ErrMailboxFull: the recipient's mailbox is over its count or byte
	// quota, or the relay's store is full.
	ErrMailboxFull = errors.New("recipient's mailbox is full")
	// ErrRateLimited: this sender deposited too much too fast.
	ErrRateLimited = errors.New("mailbox deposits rate limited")
	// ErrTooLarge: the envelope is over the mailbox's size limit.
	ErrTooLarge = errors.New("envelope too large for the mailbox")
	// ErrNoMailbox: no relay of ours keeps mail for the recipient, none is
	// reachable, or the network is not running.
	ErrNoMailbox = errors.New("no mailbox available for the recipient")
	// ErrUndecipherable: an envelope is not for this server, was altered, or
	// holds no well-formed request. Dropped: retrying cannot help.
	ErrUndecipherable = errors.New("undecipherable envelope")
)
