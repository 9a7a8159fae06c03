//go:build js

package bridge

import "syscall/js"

// maxIdleWorkers bounds the goroutines kept waiting for a request: as many
// as requests usually overlap (a /sync long-poll or two, a few sends).
const maxIdleWorkers = 16

// workers runs requests on goroutines that live on after one. A new
// goroutine starts with a small stack, and serving a request grows it
// several times, copying it each time: in wasm that was 0.2 ms of a 4 ms
// message send (runtime.copystack in V8's profile of bench/wasm-send.js). A
// worker keeps the stack its last request grew (until the GC shrinks a
// stack that stays mostly unused).
type workers struct {
	// idle are the workers waiting, each by the channel it takes its next task on.
	idle chan chan func()
}

func newWorkers(maxIdle int) *workers { return &workers{idle: make(chan chan func(), maxIdle)} }

// promise is newPromise with fn run by a worker.
func (ws *workers) promise(fn func() (js.Value, error)) js.Value {
	return promiseRunning(ws.run, fn)
}

// run hands task to an idle worker, or to a new one if none is idle.
func (ws *workers) run(task func()) {
	select {
	case w := <-ws.idle:
		w <- task
	default:
		w := make(chan func(), 1)
		w <- task
		go ws.work(w)
	}
}

// work runs the tasks sent on w, waiting among the idle workers between
// them; it ends when enough workers are idle already.
func (ws *workers) work(w chan func()) {
	for task := range w {
		task()
		select {
		case ws.idle <- w:
		default:
			return
		}
	}
}
