package ephemeral

import (
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// A typing notice whose timeout passes at once still ends: its timer may fire
// before AfterFunc has returned (a data race under -race before the notice,
// not the timer, identified it).
func TestTypingWithAnImmediateTimeoutEnds(t *testing.T) {
	expired := make(chan struct{}, 16)
	e := New(nil, Options{MemoryAdvanced: func(int64) { expired <- struct{}{} }})
	user, err := spec.NewUserID("@alice:example.org", true)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.ReceiveTyping("!room:example.org", *user, true, 0)
		deadline := time.After(5 * time.Second)
		for {
			if users, _ := e.Typing("!room:example.org", 0); len(users) == 0 {
				break
			}
			select {
			case <-expired:
			case <-deadline:
				t.Fatalf("round %d: still typing after its timeout", i)
			}
		}
	}
}
