package syncapi

import (
	"fmt"
	"strconv"
	"strings"

	"hearth/go/room"
)

// Token is a /sync position: one part per stream a sync reports.
// Its text form is "s<events>_<data>_<typing>"; the bare "s<events>" that
// /messages and older clients use is the same with the other parts 0.
type Token struct {
	Events    room.StreamPos // room events (the room package's stream)
	Data      int64          // data stream: account data, receipts, key changes, to-device
	Ephemeral int64          // typing and presence, kept in memory: restarts at 0
}

func (t Token) String() string {
	return fmt.Sprintf("%s_%d_%d", t.Events, t.Data, t.Ephemeral)
}

// after reports whether any part of t is past since.
func (t Token) after(since Token) bool {
	return t.Events > since.Events || t.Data > since.Data || t.Ephemeral > since.Ephemeral
}

// ParseToken reads a token made by Token.String or room.StreamPos.String.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(s, "_")
	if len(parts) != 1 && len(parts) != 3 {
		return Token{}, fmt.Errorf("%w: %q", room.ErrBadToken, s)
	}
	ev, err := room.ParseStreamPos(parts[0])
	if err != nil {
		return Token{}, err
	}
	t := Token{Events: ev}
	if len(parts) == 3 {
		d, err1 := strconv.ParseInt(parts[1], 10, 64)
		ty, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil || d < 0 || ty < 0 {
			return Token{}, fmt.Errorf("%w: %q", room.ErrBadToken, s)
		}
		t.Data, t.Ephemeral = d, ty
	}
	return t, nil
}

// EventsPart returns the room-event position of a sync token, so /messages
// accepts next_batch as well as prev_batch tokens.
func EventsPart(s string) string {
	before, _, _ := strings.Cut(s, "_")
	return before
}
