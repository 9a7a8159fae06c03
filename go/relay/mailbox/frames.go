package mailbox

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"unicode/utf8"
)

// Wire constants, as in js/p2p/constants.js.
const (
	protocolID = "/hearth/mailbox/1.0.0"
	// maxDepositLimit is MAX_MAILBOX_DEPOSIT_BYTES: no relay takes more in one deposit.
	maxDepositLimit = 4 << 20
	// maxFrameBytes is MAX_MAILBOX_FRAME_BYTES: the largest deposit plus its head.
	maxFrameBytes = maxDepositLimit + 64<<10
	maxHeadBytes  = 64 << 10
	// pushWindow is MAILBOX_PUSH_WINDOW: mails (and, apart, notices) pushed
	// on one stream and not acked yet.
	pushWindow = 16
	// maxLengthBytes is the longest varint prefix: 4 bytes hold the largest frame.
	maxLengthBytes = 4
	// maxAckIDs bounds one ack frame: far above what a window of pushes needs.
	maxAckIDs = 1024
)

// refPattern is MAILBOX_REF_PATTERN: a deposit's ref (the sender's transaction ID).
var refPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,100}$`)

// readFrame reads one length-prefixed frame. The prefix is an unsigned
// varint of at most 4 bytes (a longer one is refused as soon as its fourth
// byte says it goes on, so endless continuation bytes cannot keep the reader
// waiting); a frame over maxFrameBytes is refused before it is read. A
// non-minimal varint is taken, as the JavaScript reader takes it.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var length int
	for i := 0; ; i++ {
		if i == maxLengthBytes {
			return nil, protocolErrorf("a mailbox frame length is not a varint of at most %d bytes", maxLengthBytes)
		}
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		length |= int(b&0x7f) << (7 * i)
		if b < 0x80 {
			break
		}
	}
	if length > maxFrameBytes {
		return nil, protocolErrorf("a mailbox frame of %d bytes is over the limit of %d", length, maxFrameBytes)
	}
	// Grown as bytes arrive rather than allocated as announced: a peer that
	// announces 4 MiB and sends nothing does not hold 4 MiB here.
	var frame bytes.Buffer
	frame.Grow(min(length, 64<<10))
	if n, err := io.CopyN(&frame, r, int64(length)); n < int64(length) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return frame.Bytes(), nil
}

// head is a frame's JSON object, its fields left raw until asked for.
type head map[string]json.RawMessage

// decodeFrame splits a frame into its head (a JSON object) and payload (a
// view into frame).
func decodeFrame(frame []byte) (head, []byte, error) {
	if len(frame) < 4 {
		return nil, nil, protocolErrorf("mailbox frame of %d bytes has no head length", len(frame))
	}
	headLength := binary.BigEndian.Uint32(frame)
	if headLength > maxHeadBytes || int64(headLength) > int64(len(frame)-4) {
		return nil, nil, protocolErrorf("mailbox frame announces a %d-byte head in %d bytes", headLength, len(frame))
	}
	text := frame[4 : 4+headLength]
	// As the JavaScript reader: a byte order mark is dropped, bad UTF-8 is refused.
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(text) {
		return nil, nil, protocolErrorf("mailbox frame head is not JSON: not UTF-8")
	}
	var h head
	if err := json.Unmarshal(text, &h); err != nil {
		return nil, nil, protocolErrorf("mailbox frame head is not JSON: %v", err)
	}
	if h == nil { // null unmarshals into a nil map; arrays and scalars fail above
		return nil, nil, protocolErrorf("mailbox frame head is not a JSON object")
	}
	return h, frame[4+headLength:], nil
}

// str is the field as a string, if it is a JSON string.
func (h head) str(key string) (string, bool) {
	raw := h[key]
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// encodeFrame is one frame with its length prefix, ready for one Write.
func encodeFrame(h any, payload []byte) []byte {
	var text bytes.Buffer
	enc := json.NewEncoder(&text)
	enc.SetEscapeHTML(false) // as JSON.stringify writes it
	if err := enc.Encode(h); err != nil {
		panic("mailbox: a frame head that does not encode: " + err.Error()) // our own structs: cannot happen
	}
	headBytes := bytes.TrimSuffix(text.Bytes(), []byte("\n"))
	size := 4 + len(headBytes) + len(payload)
	frame := make([]byte, 0, binary.MaxVarintLen32+size)
	frame = binary.AppendUvarint(frame, uint64(size))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(headBytes)))
	frame = append(frame, headBytes...)
	return append(frame, payload...)
}
