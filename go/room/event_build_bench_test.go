package room

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// BenchmarkBuildMessage is gomatrixserverlib's share of a local send: the
// builder's content hash, signature and canonical form, then the event ID,
// for a message shaped as a send makes it (appendLocalAt). It is the part of
// a send Hearth does not write, and so a floor under a send
// (bench/wasm-send.js runs it in wasm: clientapi.wasm.event-build).
func BenchmarkBuildMessage(b *testing.B) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	v := gomatrixserverlib.MustGetRoomVersion(DefaultVersion)
	// Event IDs as room versions 4 and later make them: "$" and 43 URL-safe base64 characters.
	hash := func(c byte) string { return "$" + strings.Repeat(string(c), 43) }
	prev, auth := []string{hash('a')}, []string{hash('b'), hash('c'), hash('d')}
	build := func(i int) {
		proto := gomatrixserverlib.ProtoEvent{
			SenderID:   "@bench:hearth.test",
			RoomID:     "!room:hearth.test",
			Type:       "m.room.message",
			Content:    spec.RawJSON(fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)),
			PrevEvents: prev,
			AuthEvents: auth,
			Depth:      int64(i + 10),
			Version:    v,
		}
		ev, err := v.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), "hearth.test", "ed25519:bench", key)
		if err != nil {
			b.Fatal(err)
		}
		_ = ev.EventID()
	}
	// Untimed first: in wasm the engine optimises the hot code over the
	// first few hundred events, and a running server is past that.
	for i := range 500 {
		build(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		build(i)
	}
}
