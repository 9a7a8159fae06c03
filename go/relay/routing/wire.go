package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio"
	ma "github.com/multiformats/go-multiaddr"
)

// The wire (js/p2p/routing.js, js/p2p/constants.js): one request and one
// answer per stream, each an unsigned-varint-length-prefixed UTF-8 JSON object.
const (
	// ProtocolID is ROUTING_PROTOCOL.
	ProtocolID = protocol.ID("/hearth/routing/1.0.0")
	// maxMessageBytes is MAX_ROUTING_MESSAGE_BYTES.
	maxMessageBytes = 64 * 1024
	// maxAddrs is MAX_ROUTING_ADDRS: a community's relays, not a directory.
	maxAddrs = 64
	// maxAddrChars bounds one address from the wire (in UTF-16 units, as JS counts).
	maxAddrChars = 400
)

// message is a routing request or answer: a JSON object, its fields still raw.
type message map[string]json.RawMessage

// parseMessage reads a routing message; anything but a JSON object is refused.
func parseMessage(b []byte) (message, error) {
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("bad routing message: %w", err)
	}
	if m == nil { // "null" unmarshals into a nil map without error
		return nil, errors.New("bad routing message: not an object")
	}
	return m, nil
}

// encodeJSON is JSON.stringify's output for the wire's plain objects: no
// HTML escaping, no trailing newline.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("routing: encoding %T: %v", v, err)) // only our own structs get here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// relayAddrsFrom returns the relay addresses in a list from the wire: each a
// string that parses as a multiaddr ending in /p2p/<id>, with no
// /p2p-circuit; others are skipped, as is anything past maxAddrs.
func relayAddrsFrom(raw json.RawMessage) []ma.Multiaddr {
	var items []any
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var addrs []ma.Multiaddr
	for i, item := range items {
		if i == maxAddrs {
			break
		}
		if s, ok := item.(string); ok {
			if a, ok := RelayAddr(s); ok {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs
}

// RelayAddr parses one relay address: a multiaddr ending in /p2p/<id>, with
// no /p2p-circuit, in at most 400 characters (see relayAddrsFrom).
func RelayAddr(s string) (ma.Multiaddr, bool) {
	if len(s) > maxAddrChars && len(utf16.Encode([]rune(s))) > maxAddrChars {
		return nil, false
	}
	a, err := ma.NewMultiaddr(s)
	if err != nil || relayIDOf(a) == "" {
		return nil, false
	}
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return nil, false // a peer behind a relay, not a relay
		}
	}
	return a, true
}

// relayIDOf is the peer ID an address ends in, "" if it ends in anything else.
func relayIDOf(a ma.Multiaddr) peer.ID {
	_, id := peer.SplitAddr(a)
	return id
}

// addrStrings turns addresses into their wire form, never nil (JSON [] not null).
func addrStrings(addrs []ma.Multiaddr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

// ask sends one routing request to the relay at addrs (all ending in its
// /p2p/ID) and returns its answer; an {"error"} answer is returned as an
// error. ctx bounds the whole exchange, dial included.
func ask(ctx context.Context, h host.Host, addrs []ma.Multiaddr, request any) (message, error) {
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, fmt.Errorf("routing: relay addresses %v: %w", addrs, err)
	}
	if len(infos) == 0 {
		return nil, errors.New("routing: no relay address")
	}
	id := infos[0].ID
	if err := h.Connect(ctx, infos[0]); err != nil {
		return nil, fmt.Errorf("routing: dialing %s: %w", id, err)
	}
	s, err := h.NewStream(ctx, id, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("routing: opening a stream to %s: %w", id, err)
	}
	// the deadline bounds blocked reads and writes; the AfterFunc, cancellation
	stopReset := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stopReset()
	if deadline, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(deadline)
	}
	answer, err := exchange(s, request)
	if err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("routing: asking %s: %w", id, err)
	}
	_ = s.Close()
	if refusal, ok := answer.str("error"); ok {
		return nil, fmt.Errorf("routing: %s", truncate(refusal, 200))
	}
	return answer, nil
}

// str is field key if it is a JSON string.
func (m message) str(key string) (string, bool) {
	var v any
	if json.Unmarshal(m[key], &v) != nil {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// exchange writes the request, half-closes and reads the answer.
func exchange(s network.Stream, request any) (message, error) {
	if err := msgio.NewVarintWriter(s).WriteMsg(encodeJSON(request)); err != nil {
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		return nil, fmt.Errorf("closing the request: %w", err)
	}
	b, err := msgio.NewVarintReaderSize(s, maxMessageBytes).ReadMsg()
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return parseMessage(b)
}

// truncate keeps at most n UTF-16 units of s, as JS's slice(0, n) does
// (roughly: a rune is never split).
func truncate(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}
