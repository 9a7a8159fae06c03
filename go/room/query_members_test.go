package room

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// One pass over new events finds the rooms with events, and the membership
// changes only in the rooms the user is or was in: the same changes
// MemberChanges finds, the newest per room and user.
func TestNewEventsBetweenFindsRoomsAndTheUsersMemberChanges(t *testing.T) {
	p := newPeer(t, 1, "")
	ctx := context.Background()
	alice, bob, carol := p.user("alice"), p.user("bob"), p.user("carol")
	shared, err := p.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := p.rooms.Perform.Create(ctx, carol, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	before, err := p.rooms.Query.LatestPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, roomID := range []string{shared, elsewhere} {
		if _, err := p.rooms.Perform.JoinWithContent(ctx, bob, roomID, nil); err != nil {
			t.Fatal(err)
		}
	}
	sk := bob.String()
	p.send(bob, shared, "m.room.member", &sk, `{"membership":"join","displayname":"Bob"}`)
	p.send(carol, elsewhere, "m.room.message", nil, `{"msgtype":"m.text","body":"hi"}`)
	after, err := p.rooms.Query.LatestPos(ctx)
	if err != nil {
		t.Fatal(err)
	}

	news, err := p.rooms.Query.NewEventsBetween(ctx, alice, before, after, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(news.Rooms)); !slices.Equal(got, slices.Sorted(slices.Values([]string{shared, elsewhere}))) {
		t.Errorf("rooms with events: %v, want both", got)
	}
	want := []MemberChange{{RoomID: shared, UserID: bob.String(), Membership: "join"}}
	if !slices.Equal(news.MemberChanges, want) {
		t.Errorf("member changes: %+v, want %+v (only alice's room, bob's newest)", news.MemberChanges, want)
	}
	alone, err := p.rooms.Query.MemberChanges(ctx, alice, before, after)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alone, news.MemberChanges) {
		t.Errorf("MemberChanges %+v, NewEventsBetween %+v", alone, news.MemberChanges)
	}
	empty, err := p.rooms.Query.NewEventsBetween(ctx, alice, after, after, nil)
	if err != nil || len(empty.Rooms) != 0 || len(empty.MemberChanges) != 0 {
		t.Errorf("an empty range: %+v, %v", empty, err)
	}
	// The memberships read beside the events are Memberships', for a range
	// with events or without.
	for _, u := range []spec.UserID{alice, bob} {
		want, err := p.rooms.Query.Memberships(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatalf("%s has no memberships", u.String())
		}
		for _, r := range [][2]StreamPos{{before, after}, {after, after}} {
			got, err := p.rooms.Query.NewEventsBetween(ctx, u, r[0], r[1], nil)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got.Memberships, want) {
				t.Errorf("%s's memberships beside the events in (%d, %d]: %+v, want %+v", u.String(), r[0], r[1], got.Memberships, want)
			}
		}
	}
}

// With a timeline limit no smaller than the range, the new events bring each
// room's timeline as Timeline reads it: the same events, transaction IDs
// (the reader's device's only) and children's kinds, none for a room the user
// is not in; with a smaller limit, none.
func TestNewEventsBetweenReadsTheTimelinesOfAShortRange(t *testing.T) {
	p := newPeer(t, 1, "")
	ctx := context.Background()
	alice, bob, carol := p.user("tl-alice"), p.user("tl-bob"), p.user("tl-carol")
	shared, err := p.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	own, err := p.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPrivateChat})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := p.rooms.Perform.Create(ctx, carol, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.rooms.Perform.JoinWithContent(ctx, bob, shared, nil); err != nil {
		t.Fatal(err)
	}
	before, err := p.rooms.Query.LatestPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := p.send(bob, shared, "m.room.message", nil, `{"msgtype":"m.text","body":"hi"}`)
	for _, device := range []string{"PHONE", "LAPTOP"} {
		if _, err := p.rooms.Perform.Send(ctx, alice, device, "txn-"+device, shared, "m.room.message", nil,
			[]byte(`{"msgtype":"m.text","body":"from `+device+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	p.send(alice, shared, "m.reaction", nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"`+root.EventID()+`","key":"👍"}}`)
	p.send(alice, own, "m.room.message", nil, `{"msgtype":"m.text","body":"notes"}`)
	p.send(carol, elsewhere, "m.room.message", nil, `{"msgtype":"m.text","body":"not for alice"}`)
	after, err := p.rooms.Query.LatestPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	span := int(after - before)

	short, err := p.rooms.Query.NewEventsBetween(ctx, alice, before, after, &TimelineRead{Reader: alice, DeviceID: "LAPTOP", Limit: span - 1})
	if err != nil {
		t.Fatal(err)
	}
	if short.Timelines != nil {
		t.Errorf("a limit shorter than the range read timelines: %v", short.Timelines)
	}
	news, err := p.rooms.Query.NewEventsBetween(ctx, alice, before, after, &TimelineRead{Reader: alice, DeviceID: "LAPTOP", Limit: span})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := news.Timelines[elsewhere]; ok {
		t.Errorf("a room alice is not in has a timeline")
	}
	describe := func(events []Event) []string {
		var out []string
		for _, ev := range events {
			out = append(out, fmt.Sprintf("%s %d txn=%q kinds=%v read=%v", ev.EventID(), ev.Pos, ev.TransactionID, ev.childKinds, ev.kindsRead))
		}
		return out
	}
	for _, roomID := range []string{shared, own} {
		want, limited, err := p.rooms.Query.Timeline(ctx, roomID, alice, "LAPTOP", before, after, span)
		if err != nil || limited {
			t.Fatalf("Timeline: %v, limited %v", err, limited)
		}
		if got := describe(news.Timelines[roomID]); !slices.Equal(got, describe(want)) || len(got) == 0 {
			t.Errorf("timeline of %s read with the new events:\n%s\nTimeline:\n%s", roomID, strings.Join(got, "\n"), strings.Join(describe(want), "\n"))
		}
	}
}
