package main

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sirupsen/logrus"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestConfigFromEnv(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	const relay = "/ip4/127.0.0.1/tcp/8081/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo"

	cfg, err := configFromEnv(envOf(map[string]string{
		"RELAY_PORT": "0", "RELAY_MAX_RESERVATIONS": "9", "RELAY_MAILBOX_TTL_DAYS": "0.5", "RELAY_PEERS": " " + relay + " ,",
	}), log)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 0 || cfg.Limits.MaxReservations != 9 || len(cfg.Peers) != 1 || cfg.Peers[0].String() != relay {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.Mailbox == nil || cfg.Mailbox.Dir != filepath.Join(".hearth", "mailbox") || cfg.Mailbox.TTL.Hours() != 12 {
		t.Fatalf("mailbox %+v, want .hearth/mailbox kept 12 hours", cfg.Mailbox)
	}
	if cfg, _ := configFromEnv(envOf(map[string]string{"RELAY_MAILBOX_DIR": "off"}), log); cfg.Mailbox != nil {
		t.Fatal("RELAY_MAILBOX_DIR=off kept a mailbox")
	}

	for name, value := range map[string]string{
		"RELAY_PORT":                     "70000",
		"RELAY_MAX_CONNECTIONS_PER_PEER": "0",
		"RELAY_DATA_LIMIT":               "lots",
		"RELAY_MAILBOX_TTL_DAYS":         "-1",
		"RELAY_PEERS":                    "/ip4/127.0.0.1/tcp/8081/ws", // no /p2p/<id>
	} {
		if _, err := configFromEnv(envOf(map[string]string{name: value}), log); err == nil {
			t.Errorf("%s=%s was taken", name, value)
		}
	}
}

func TestKeyFileKeepsThePeerID(t *testing.T) {
	file := filepath.Join(t.TempDir(), "relay.key")
	first, err := loadOrCreateKey(file)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateKey(file)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := peer.IDFromPrivateKey(first)
	b, _ := peer.IDFromPrivateKey(again)
	if a != b {
		t.Fatalf("peer ID %s after a restart, was %s", b, a)
	}
}
