package mailbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"sync"
	"unicode/utf16"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// One peer's mailbox stream (js/relay/mailbox/server.js). On it the relay
//   - takes deposits: checks them (origin = the connection's peer, sizes,
//     recipient known, sender's rate), stores them and answers only after
//     the COMMIT;
//   - pushes the peer's mail, oldest first, at most pushWindow unacked per
//     stream, on open and as deposits for it arrive (no polling); and the
//     notices about mail the peer deposited, the same way;
//   - deletes mail and notices as they are acked; an ack turns a mail into a
//     'delivered' notice for its sender.
//
// Unacked pushes are not tracked across streams: the next stream starts from
// the oldest mail again. Bad frames end the stream, nothing else.
//
// Frames are read on the handler's goroutine and written by one writer
// goroutine from a queue, so a peer that reads slowly holds up only its own
// stream, never the goroutine that pushes to it.
type session struct {
	m      *Mailbox
	peer   string // the connection's peer ID: the only `from` its deposits may carry
	stream network.Stream

	mu            sync.Mutex
	closed        bool
	mail, notices window
	// out is frames waiting for the writer; pushes are bounded by the two
	// windows, answers by the reader waiting while out is long (drained).
	out     [][]byte
	wake    chan struct{} // there is something in out
	drained *sync.Cond    // out got shorter, or the session closed
	done    chan struct{} // closed with the session
}

// window is what was pushed on this stream and not acked yet; cursor is the
// highest id pushed, so the next push starts after it.
type window struct {
	unacked map[int64]struct{}
	cursor  int64
}

// maxQueued is the queue length past which the reader stops reading until
// the writer catches up: room for both windows of pushes and some answers.
const maxQueued = 4 * pushWindow

func newSession(m *Mailbox, stream network.Stream) *session {
	s := &session{
		m: m, peer: stream.Conn().RemotePeer().String(), stream: stream,
		mail:    window{unacked: map[int64]struct{}{}},
		notices: window{unacked: map[int64]struct{}{}},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	s.drained = sync.NewCond(&s.mu)
	return s
}

func (s *session) run() {
	go s.writeFrames()
	s.pushMail()
	s.pushNotices()
	r := bufio.NewReader(s.stream)
	for {
		frame, err := readFrame(r)
		if err == nil {
			err = s.handle(frame)
		}
		if err != nil {
			var bad *protocolError
			if errors.As(err, &bad) {
				s.m.log.Warnf("relay: mailbox stream of %s closed: %v", s.peer, err)
				s.close(err)
			} else if errors.Is(err, io.EOF) {
				s.close(nil) // the peer is done: close our side too
			} else {
				// reset, the connection gone, or closed by us: nothing to say
				s.m.log.Debugf("relay: mailbox stream of %s ended: %v", s.peer, err)
				s.close(err)
			}
			return
		}
	}
}

// handle takes one frame; an error ends the stream.
func (s *session) handle(frame []byte) error {
	h, payload, err := decodeFrame(frame)
	if err != nil {
		return err
	}
	op, _ := h.str("op")
	switch op {
	case "deposit":
		id, ok := depositID(h["id"])
		if !ok {
			return protocolErrorf("a deposit without a usable id")
		}
		s.answerDeposit(id, h, payload)
	case "ack":
		mids, err := ackIDs(h["mail"])
		if err != nil {
			return err
		}
		s.acked(&s.mail, mids)
		told, err := s.m.store.ack(s.peer, mids, s.m.nowMs())
		if err != nil {
			s.m.log.Warnf("relay: mailbox ack of %s failed: %v", s.peer, err)
		}
		for _, sender := range told {
			s.m.pushNotices(sender)
		}
		s.pushMail()
	case "ack-notices":
		nids, err := ackIDs(h["notices"])
		if err != nil {
			return err
		}
		s.acked(&s.notices, nids)
		if err := s.m.store.ackNotices(s.peer, nids); err != nil {
			s.m.log.Warnf("relay: mailbox notice ack of %s failed: %v", s.peer, err)
		}
		s.pushNotices()
	default:
		// unknown ops are ignored: newer peers may say more
	}
	return nil
}

// answer is a deposit's answer: {id, ok: true, expiresAt} or {id, error}.
type answer struct {
	ID        json.RawMessage `json:"id"`
	OK        bool            `json:"ok,omitempty"`
	ExpiresAt int64           `json:"expiresAt,omitempty"`
	Error     *wireError      `json:"error,omitempty"`
}

func (s *session) answerDeposit(id json.RawMessage, h head, payload []byte) {
	expiresAt, err := s.m.deposit(s.peer, h, payload)
	if err == nil {
		s.answer(answer{ID: id, OK: true, ExpiresAt: expiresAt})
		return
	}
	wire, known := toWire(err)
	if !known {
		s.m.log.Warnf("relay: mailbox deposit from %s failed: %v", s.peer, err)
	}
	s.answer(answer{ID: id, Error: &wire})
}

// deposit checks a deposit from peer, in the JavaScript relay's order, and
// stores it; it returns when the mail expires.
func (m *Mailbox) deposit(from string, h head, payload []byte) (int64, error) {
	if claimed, ok := h.str("from"); !ok || claimed != from {
		return 0, refuse(errOrigin, "the deposit claims to come from %s, but this connection is %s", jsString(h["from"]), from)
	}
	to, ok := h.str("to")
	if !ok || !isPeerID(to) {
		return 0, refuse(errBadRequest, "the recipient is not a peer ID")
	}
	ref, ok := h.str("ref")
	if !ok || !refPattern.MatchString(ref) {
		return 0, refuse(errBadRequest, "ref must be 1–100 characters of [A-Za-z0-9._~-]")
	}
	if int64(len(payload)) > m.opts.MaxDepositBytes {
		return 0, refuse(errTooLarge, "%d bytes; this relay takes at most %d per deposit", len(payload), m.opts.MaxDepositBytes)
	}
	at := m.nowMs()
	keeps, err := m.keepsMailFor(to, at)
	if err != nil {
		return 0, err
	}
	if !keeps {
		return 0, refuse(errUnknownRecipient, "%s does not use this relay's mailbox", to)
	}
	if wait := m.rate.take(from, at); wait > 0 {
		r := refuse(errRateLimited, "too many deposits; retry in %d ms", wait)
		r.retryAfterMs = wait
		return 0, r
	}
	stored, err := m.store.deposit(mail{sender: from, recipient: to, ref: ref, sealed: payload}, at)
	if err != nil {
		return 0, err
	}
	if !stored.duplicate {
		m.pushMail(to)
	}
	return stored.expiresAt, nil
}

// pushedMail and pushedNotice are the relay's pushes.
type pushedMail struct {
	Mail struct {
		Mid         int64  `json:"mid"`
		From        string `json:"from"`
		Ref         string `json:"ref"`
		DepositedAt int64  `json:"depositedAt"`
	} `json:"mail"`
}

type pushedNotice struct {
	Notice struct {
		Nid  int64  `json:"nid"`
		Kind string `json:"kind"`
		To   string `json:"to"`
		Ref  string `json:"ref"`
		At   int64  `json:"at"`
	} `json:"notice"`
}

// pushMail pushes the peer's next mails, as many as the window has room for.
func (s *session) pushMail() {
	s.push(&s.mail, func(after int64, room int) ([]pushed, error) {
		rows, err := s.m.store.mailFor(s.peer, after, room, s.m.nowMs())
		out := make([]pushed, len(rows))
		for i, row := range rows {
			var p pushedMail
			p.Mail.Mid, p.Mail.From, p.Mail.Ref, p.Mail.DepositedAt = row.mid, row.sender, row.ref, row.depositedAt
			out[i] = pushed{row.mid, encodeFrame(p, row.sealed)}
		}
		return out, err
	})
}

// pushNotices pushes the peer's next notices, as many as the window has room for.
func (s *session) pushNotices() {
	s.push(&s.notices, func(after int64, room int) ([]pushed, error) {
		rows, err := s.m.store.noticesFor(s.peer, after, room)
		out := make([]pushed, len(rows))
		for i, row := range rows {
			var p pushedNotice
			p.Notice.Nid, p.Notice.Kind, p.Notice.To, p.Notice.Ref, p.Notice.At = row.nid, row.kind, row.recipient, row.ref, row.at
			out[i] = pushed{row.nid, encodeFrame(p, nil)}
		}
		return out, err
	})
}

// acked frees the window's room the peer's ack gave back.
func (s *session) acked(w *window, ids []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(w.unacked, id)
	}
}

// pushed is one mail or notice framed for the peer, with its id.
type pushed struct {
	id    int64
	frame []byte
}

// push queues what next reads after w's cursor, as much as w has room for;
// a store error closes the stream.
func (s *session) push(w *window, next func(after int64, room int) ([]pushed, error)) {
	s.mu.Lock()
	room := pushWindow - len(w.unacked)
	if s.closed || room <= 0 {
		s.mu.Unlock()
		return
	}
	items, err := next(w.cursor, room)
	if err != nil {
		s.mu.Unlock()
		s.m.log.Warnf("relay: mailbox stream of %s closed: %v", s.peer, err)
		s.close(err)
		return
	}
	for _, item := range items {
		w.unacked[item.id] = struct{}{}
		w.cursor = item.id
		s.queue(item.frame)
	}
	s.mu.Unlock()
}

// queue hands a frame to the writer; s.mu is held.
func (s *session) queue(frame []byte) {
	s.out = append(s.out, frame)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// answer queues an answer, then waits while the queue is long: a peer that
// deposits without reading its answers stops being read.
func (s *session) answer(a answer) {
	frame := encodeFrame(a, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.queue(frame)
	for len(s.out) > maxQueued && !s.closed {
		s.drained.Wait()
	}
}

// writeFrames writes queued frames in order until the session closes.
func (s *session) writeFrames() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if s.closed || len(s.out) == 0 {
				s.mu.Unlock()
				break
			}
			frame := s.out[0]
			s.out[0] = nil
			s.out = s.out[1:]
			s.drained.Broadcast()
			s.mu.Unlock()
			if _, err := s.stream.Write(frame); err != nil {
				s.close(err)
				return
			}
		}
	}
}

// close ends the session once: a reset when something went wrong, a close
// when the peer finished.
func (s *session) close(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.out = nil
	close(s.done)
	s.drained.Broadcast()
	s.mu.Unlock()
	if err != nil {
		s.stream.Reset()
	} else {
		s.stream.Close()
	}
}

// depositID is a deposit's id, to echo in its answer: a number, or a string
// of at most 64 characters (UTF-16 units, as JavaScript counts them).
func depositID(raw json.RawMessage) (json.RawMessage, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || len(utf16.Encode([]rune(s))) > 64 {
			return nil, false
		}
		return raw, true
	case c == '-' || (c >= '0' && c <= '9'):
		return raw, true
	}
	return nil, false
}

// ackIDs is an ack's list of ids: at most maxAckIDs positive integers that
// JavaScript holds exactly (Number.isSafeInteger).
func ackIDs(raw json.RawMessage) ([]int64, error) {
	bad := protocolErrorf("an ack must list at most %d positive integer ids", maxAckIDs)
	var list []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) > maxAckIDs {
		return nil, bad
	}
	ids := make([]int64, 0, len(list))
	for _, item := range list {
		var f float64
		if len(item) == 0 || !(item[0] == '-' || (item[0] >= '0' && item[0] <= '9')) || json.Unmarshal(item, &f) != nil {
			return nil, bad
		}
		if f != math.Trunc(f) || f < 1 || f > 1<<53-1 {
			return nil, bad
		}
		ids = append(ids, int64(f))
	}
	return ids, nil
}

// isPeerID is what the JavaScript relay's peerIdFromString takes: a peer ID
// whose multihash is sha2-256 (RSA) or holds a public key (identity).
func isPeerID(s string) bool {
	if len(s) > 128 {
		return false
	}
	id, err := peer.Decode(s)
	if err != nil {
		return false
	}
	if b := []byte(id); len(b) == 34 && b[0] == 0x12 && b[1] == 0x20 {
		return true
	}
	_, err = id.ExtractPublicKey()
	return err == nil
}

// jsString is the field as JavaScript's String() would put it in a message,
// cut to 100 characters.
func jsString(raw json.RawMessage) string {
	var text string
	switch {
	case len(raw) == 0:
		text = "undefined"
	case raw[0] == '"':
		json.Unmarshal(raw, &text)
	case raw[0] == '{':
		text = "[object Object]"
	default:
		text = string(raw)
	}
	if r := []rune(text); len(r) > 100 {
		text = string(r[:100])
	}
	return text
}
