// Command hearth-relay runs Hearth's relay in Go (`npm run relay:go`). It
// reads the same environment variables as the JavaScript relay
// (js/relay/from-env.js) and prints the same lines, so either can stand in
// for the other:
//
//	RELAY_PORT, RELAY_HOST, RELAY_KEY_FILE (64-byte raw ed25519, created if
//	missing), RELAY_MAILBOX_DIR (default .hearth/mailbox; off: none),
//	RELAY_MAILBOX_TTL_DAYS, RELAY_PEERS, and one RELAY_ + upper snake case
//	name per limit (RELAY_MAX_RESERVATIONS, …).
//
// Two of the JavaScript relay's limits are not enforced here (a warning says
// so when they are set): new connections per second per IP, and handshakes
// in flight at once; go-libp2p bounds those its own way (its swarm's
// handshake timeouts and the resource manager's connection counts).
package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/sirupsen/logrus"

	"hearth/go/relay"
	"hearth/go/relay/mailbox"
	"hearth/go/relay/routing"
)

func main() {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	cfg, err := configFromEnv(os.Getenv, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		os.Exit(2)
	}
	r, err := relay.Start(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("relay: listening on port %d\n", r.Port())
	if cfg.Mailbox == nil {
		fmt.Println("relay: no mailbox (RELAY_MAILBOX_DIR=off)")
	} else {
		dir, _ := filepath.Abs(cfg.Mailbox.Dir)
		fmt.Printf("relay: mailbox in %s\n", dir)
	}
	for _, addr := range r.Addrs() {
		fmt.Printf("relay: address %s\n", addr)
	}
	if n := len(cfg.Peers); n > 0 {
		fmt.Printf("relay: linking with %d relay%s (RELAY_PEERS)\n", n, map[bool]string{true: "", false: "s"}[n == 1])
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	if err := r.Close(); err != nil {
		log.Warnf("relay: did not stop cleanly: %v", err)
	}
}

// configFromEnv reads the relay's settings; the file comment lists them.
func configFromEnv(env func(string) string, log logrus.FieldLogger) (relay.Config, error) {
	cfg := relay.Config{Host: env("RELAY_HOST"), Port: 8081, Limits: relay.DefaultLimits(), Log: log}
	if v := env("RELAY_PORT"); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 0 || port > 65535 {
			return cfg, fmt.Errorf("RELAY_PORT %s is not a port", v)
		}
		cfg.Port = port
	}
	if file := env("RELAY_KEY_FILE"); file != "" {
		key, err := loadOrCreateKey(file)
		if err != nil {
			return cfg, err
		}
		cfg.Key = key
	}
	if err := limitsFromEnv(env, &cfg.Limits, log); err != nil {
		return cfg, err
	}
	if dir := env("RELAY_MAILBOX_DIR"); dir != "off" {
		if dir == "" {
			dir = filepath.Join(".hearth", "mailbox")
		}
		opts := mailbox.DefaultOptions(dir)
		if v := env("RELAY_MAILBOX_TTL_DAYS"); v != "" {
			days, err := strconv.ParseFloat(v, 64)
			if err != nil || !(days > 0) || math.IsInf(days, 0) {
				return cfg, fmt.Errorf("RELAY_MAILBOX_TTL_DAYS %s is not a positive number of days", v)
			}
			opts.TTL = time.Duration(days * float64(24*time.Hour))
		}
		cfg.Mailbox = &opts
	}
	for _, text := range strings.Split(env("RELAY_PEERS"), ",") {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		addr, ok := routing.RelayAddr(text)
		if !ok {
			return cfg, fmt.Errorf("RELAY_PEERS: %s is not a relay multiaddr ending in /p2p/<peer ID>", text)
		}
		cfg.Peers = append(cfg.Peers, addr)
	}
	return cfg, nil
}

// limitsFromEnv sets each limit its variable names, each a positive whole number.
func limitsFromEnv(env func(string) string, l *relay.Limits, log logrus.FieldLogger) error {
	ints := map[string]*int{
		"RELAY_MAX_RESERVATIONS":         &l.MaxReservations,
		"RELAY_MAX_RESERVATIONS_PER_IP":  &l.MaxReservationsPerIP,
		"RELAY_MAX_CONNECTIONS":          &l.MaxConnections,
		"RELAY_MAX_CONNECTIONS_PER_IP":   &l.MaxConnectionsPerIP,
		"RELAY_MAX_CONNECTIONS_PER_PEER": &l.MaxConnectionsPerPeer,
		"RELAY_MAX_HOP_STREAMS":          &l.MaxHopStreams,
	}
	for name, field := range ints {
		n, ok, err := positive(env, name)
		if err != nil {
			return err
		}
		if ok {
			*field = int(n)
		}
	}
	if n, ok, err := positive(env, "RELAY_RESERVATION_TTL"); err != nil {
		return err
	} else if ok {
		l.ReservationTTL = time.Duration(n) * time.Millisecond
	}
	if n, ok, err := positive(env, "RELAY_DATA_LIMIT"); err != nil {
		return err
	} else if ok {
		l.DataLimit = n
	}
	if n, ok, err := positive(env, "RELAY_DURATION_LIMIT"); err != nil {
		return err
	} else if ok {
		l.DurationLimit = time.Duration(n) * time.Millisecond
	}
	for _, name := range []string{
		"RELAY_MAX_CONNECTIONS_PER_SECOND_PER_HOST", "RELAY_MAX_PENDING_CONNECTIONS",
	} {
		if env(name) != "" {
			log.Warnf("relay: %s is not enforced by the Go relay (js/relay enforces it)", name)
		}
	}
	return nil
}

func positive(env func(string) string, name string) (int64, bool, error) {
	v := env(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, false, fmt.Errorf("%s %s is not a positive whole number", name, v)
	}
	return n, true, nil
}

// loadOrCreateKey reads the relay's key from file (64 bytes: the ed25519
// seed and public key, as the JavaScript relay writes it), creating it first.
func loadOrCreateKey(file string) (crypto.PrivKey, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("RELAY_KEY_FILE: %w", err)
		}
		raw, err := key.Raw()
		if err != nil {
			return nil, fmt.Errorf("RELAY_KEY_FILE: %w", err)
		}
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			return nil, fmt.Errorf("RELAY_KEY_FILE: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("RELAY_KEY_FILE: %w", err)
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("RELAY_KEY_FILE: %s is not a 64-byte ed25519 key", file)
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("RELAY_KEY_FILE: %s: %w", file, err)
	}
	return key, nil
}
