//go:build js

package bridge

import (
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"
)

// Go returns to JS only when no goroutine can run: a reaction to a promise
// Go resolved waits until then. YieldToEventLoop lets it run (as a send's
// answer must leave before the /sync the send woke is built).
func TestYieldToEventLoopLetsJSRunWhatGoQueued(t *testing.T) {
	var ran atomic.Bool
	reaction := js.FuncOf(func(js.Value, []js.Value) any {
		ran.Store(true)
		return nil
	})
	defer reaction.Release()
	js.Global().Get("Promise").Call("resolve").Call("then", reaction)
	if ran.Load() {
		t.Fatal("the reaction ran while Go still had work")
	}
	YieldToEventLoop()
	if !ran.Load() {
		t.Fatal("YieldToEventLoop returned before JS ran the reaction Go had queued")
	}
}

func TestYieldToEventLoopReturnsToEveryCaller(t *testing.T) {
	const callers = 20
	var all sync.WaitGroup
	all.Add(callers)
	for range callers {
		go func() {
			defer all.Done()
			YieldToEventLoop()
		}()
	}
	done := make(chan struct{})
	go func() {
		all.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a goroutine that yielded was never resumed")
	}
}

// A yield whose message is still queued when Go stops is never resumed: its
// message must not call into Go, which has exited by the time it arrives.
func TestStopEventLoopDropsTheYieldsStillWaiting(t *testing.T) {
	var l eventLoop
	arrived := l.post()
	l.stop()
	time.Sleep(50 * time.Millisecond) // JS runs its tasks meanwhile
	select {
	case <-arrived:
		t.Fatal("a message queued at stop reached Go")
	default:
	}
	if l.post() != nil {
		t.Fatal("a yield after stop posted a message")
	}
}

// Under Node the port keeps the process alive while a yield waits, and only
// then: with nothing else pending Node would end, the message undelivered,
// and Go would report a deadlock.
func TestYieldHoldsNodeAliveWhileItWaits(t *testing.T) {
	var l eventLoop
	l.once.Do(l.open)
	if !l.refs {
		t.Skip("not under Node")
	}
	if l.receive.Call("hasRef").Bool() {
		t.Fatal("an idle event loop holds the process alive")
	}
	arrived := l.post()
	if !l.receive.Call("hasRef").Bool() {
		t.Fatal("a waiting yield does not hold the process alive")
	}
	<-arrived
	if l.receive.Call("hasRef").Bool() {
		t.Fatal("the process is still held once the yield is over")
	}
}
