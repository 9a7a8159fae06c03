//go:build !js

package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"hearth/go/clientapi"
)

// Scripts and the SDK tests connect as soon as the "listening on" line
// appears: the port must already be bound then. The hook dials from inside
// the log call, the earliest anyone can read the line.
func TestListeningLineComesAfterTheBind(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	hook := &dialOnListening{dialed: make(chan error, 1)}
	logrus.AddHook(hook)
	defer logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, t.TempDir(), clientapi.Policy{}, 0) }()
	select {
	case err := <-hook.dialed:
		if err != nil {
			t.Errorf("the server said it listens, but a connection then failed: %v", err)
		}
	case err := <-done:
		t.Fatalf("the server stopped before saying it listens: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the server never said it listens")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

type dialOnListening struct {
	once   sync.Once
	dialed chan error
}

func (h *dialOnListening) Levels() []logrus.Level { return []logrus.Level{logrus.InfoLevel} }

func (h *dialOnListening) Fire(e *logrus.Entry) error {
	rest, ok := strings.CutPrefix(e.Message, "listening on http://")
	if !ok {
		return nil
	}
	conn, err := net.Dial("tcp", strings.Fields(rest)[0])
	if err == nil {
		conn.Close()
	}
	h.once.Do(func() { h.dialed <- err })
	return nil
}
