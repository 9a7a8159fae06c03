//go:build js

package bridge

import (
	"sync"
	"testing"
	"time"
)

// Tasks never wait for each other: with every worker busy a new one starts
// (here 20 tasks that can only finish once all 20 run). Afterwards at most
// maxIdle workers stay, and the next task takes one of them.
func TestWorkersRunTasksAtOnceAndKeepAFew(t *testing.T) {
	const tasks, maxIdle = 20, 4
	ws := newWorkers(maxIdle)
	var all sync.WaitGroup
	all.Add(tasks)
	done := make(chan struct{}, tasks)
	for range tasks {
		ws.run(func() {
			all.Done()
			all.Wait()
			done <- struct{}{}
		})
	}
	timeout := time.After(10 * time.Second)
	for range tasks {
		select {
		case <-done:
		case <-timeout:
			t.Fatal("tasks waited for each other")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ws.idle) < maxIdle {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers idle, want %d", len(ws.idle), maxIdle)
		}
		time.Sleep(time.Millisecond)
	}
	idleWhileRunning := make(chan int)
	ws.run(func() { idleWhileRunning <- len(ws.idle) })
	if n := <-idleWhileRunning; n != maxIdle-1 {
		t.Fatalf("a task with %d workers idle left %d idle while it ran, want %d", maxIdle, n, maxIdle-1)
	}
}
