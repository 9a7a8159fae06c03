package room

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestZZRooms(t *testing.T) {
	rooms, alice, bob, shared := publicRoomOfTwo(t)
	ctx := context.Background()
	send := func() {
		if _, err := rooms.Perform.Send(ctx, bob, "DEV", "", shared, "m.room.message", nil, []byte(`{"msgtype":"m.text","body":"hi"}`)); err != nil {
			t.Fatal(err)
		}
	}
	measure := func(label string) {
		before, _ := rooms.Query.LatestPos(ctx)
		send()
		after, _ := rooms.Query.LatestPos(ctx)
		for k := 0; k < 2; k++ {
			start := time.Now()
			for i := 0; i < 500; i++ {
				if _, err := rooms.Query.NewEventsBetween(ctx, alice, before, after, &TimelineRead{Reader: alice, DeviceID: "X", Limit: 10}); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Printf("%s: %v per NewEventsBetween\n", label, time.Since(start)/500)
		}
	}
	measure("2 rooms")
	for i := 0; i < 48; i++ {
		if _, err := rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat}); err != nil {
			t.Fatal(err)
		}
	}
	measure("50 rooms")
}
