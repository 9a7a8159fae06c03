//go:build js

package bridge

import (
	"sync"
	"syscall/js"
)

// eventLoop hands Go's waiters one JS task each, through a MessageChannel:
// unlike setTimeout, its messages are never clamped to 4 ms when nested.
type eventLoop struct {
	once sync.Once
	port js.Value // the sending end
	// receive is the listening end, held here too: nothing else on the Go
	// side refers to it, and a collected listener would leave every waiter
	// blocked for good.
	receive js.Value
	// refs: the port can hold Node's process alive (ref/unref; not in browsers).
	refs    bool
	mu      sync.Mutex
	waiting []chan struct{} // in the order their messages were posted; guarded by mu
	stopped bool            // guarded by mu
}

var loop eventLoop

// YieldToEventLoop blocks the calling goroutine until the JS event loop has
// run a task of its own. Go in wasm runs on JS's one thread and returns to JS
// only when no goroutine can run: what JS has queued by then (the reactions
// to answers Go has resolved, which are microtasks) runs before that task.
// After StopEventLoop it returns at once.
func YieldToEventLoop() { loop.yield() }

// StopEventLoop is called as Go exits: the messages of yields still waiting
// are dropped, since a message reaching an exited Go throws in the host
// (fatal in a Node process that runs a headless peer). Their goroutines stay
// blocked; Go is ending.
func StopEventLoop() { loop.stop() }

func (l *eventLoop) yield() {
	if done := l.post(); done != nil {
		<-done
	}
}

// post queues a task's message and returns what its arrival closes; nil
// once stopped.
func (l *eventLoop) post() <-chan struct{} {
	l.once.Do(l.open)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil
	}
	done := make(chan struct{})
	if len(l.waiting) == 0 && l.refs {
		l.receive.Call("ref") // or Node may end, the message undelivered
	}
	l.waiting = append(l.waiting, done)
	l.port.Call("postMessage", nil)
	return done
}

func (l *eventLoop) stop() {
	l.once.Do(l.open)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	l.receive.Set("onmessage", js.Null())
	l.receive.Call("close")
}

func (l *eventLoop) open() {
	channel := js.Global().Get("MessageChannel").New()
	receive := channel.Get("port1")
	l.receive = receive
	// onReceive lives as long as the program: it is never released.
	onReceive := js.FuncOf(func(js.Value, []js.Value) any {
		l.mu.Lock()
		done := l.waiting[0]
		l.waiting = l.waiting[1:]
		if len(l.waiting) == 0 && l.refs {
			l.receive.Call("unref")
		}
		l.mu.Unlock()
		close(done)
		return nil
	})
	receive.Set("onmessage", onReceive)
	// Under Node a port that listens keeps the process alive: this one does
	// only while a yield waits for its message.
	if l.refs = receive.Get("unref").Type() == js.TypeFunction; l.refs {
		receive.Call("unref")
	}
	l.port = channel.Get("port2")
}
