package syncapi

import (
	"errors"
	"testing"

	"hearth/go/room"
)

func TestParseToken(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Token
		ok   bool
	}{
		{"s0_0_0", Token{}, true},
		{"s12_5_3", Token{Events: 12, Data: 5, Ephemeral: 3}, true},
		{"s12", Token{Events: 12}, true}, // /messages tokens and older clients' next_batch
		{"s12_5", Token{}, false},
		{"s12_x_3", Token{}, false},
		{"s12_-1_3", Token{}, false},
		{"12_5_3", Token{}, false},
		{"", Token{}, false},
	} {
		got, err := ParseToken(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseToken(%q) = %+v, %v", tc.in, got, err)
		}
		if !tc.ok && !errors.Is(err, room.ErrBadToken) {
			t.Errorf("ParseToken(%q) error %v is not ErrBadToken", tc.in, err)
		}
		if tc.ok && len(tc.in) > 4 && got.String() != tc.in {
			t.Errorf("%q round-trips to %q", tc.in, got.String())
		}
	}
	if EventsPart("s12_5_3") != "s12" || EventsPart("s7") != "s7" {
		t.Error("EventsPart")
	}
}

func TestFilterTypes(t *testing.T) {
	types := []string{"m.room.*", "org.example.x"}
	for _, tc := range []struct {
		f    EventFilter
		typ  string
		want bool
	}{
		{EventFilter{}, "anything", true},
		{EventFilter{Types: &types}, "m.room.message", true},
		{EventFilter{Types: &types}, "org.example.x", true},
		{EventFilter{Types: &types}, "org.example.xy", false},
		{EventFilter{Types: &types, NotTypes: []string{"m.room.member"}}, "m.room.member", false},
		{EventFilter{NotTypes: []string{"*"}}, "m.typing", false},
		{EventFilter{Types: &[]string{}}, "m.room.message", false},
	} {
		if got := tc.f.allowsType(tc.typ); got != tc.want {
			t.Errorf("%+v allowsType(%q) = %v", tc.f, tc.typ, got)
		}
	}
}
