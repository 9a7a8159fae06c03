// Package server wires one homeserver together: storage, identity, accounts,
// rooms, sync and the HTTP APIs. Both mains (native and wasm) call New.
package server

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/account"
	"hearth/go/accountdata"
	"hearth/go/clientapi"
	"hearth/go/ephemeral"
	"hearth/go/errcode"
	"hearth/go/federation"
	"hearth/go/identity"
	"hearth/go/keys"
	"hearth/go/mailbox"
	"hearth/go/media"
	"hearth/go/push"
	"hearth/go/room"
	"hearth/go/storage"
	"hearth/go/syncapi"
)

// Config is what a server needs from its platform.
type Config struct {
	DB *storage.DB
	// BcryptCost for password hashes; 0 is bcrypt's default. Tests lower it.
	BcryptCost int
	Now        func() time.Time // nil: time.Now
	Random     io.Reader        // nil: crypto/rand
	// Transport carries outgoing federation requests: URL
	// matrix-federation://<peer ID><path> (see federation.Scheme). In the
	// browser it is the libp2p round tripper; nil means no federation (every
	// remote request fails, the outgoing queue waits).
	Transport http.RoundTripper
	// RequestPeer returns the libp2p peer an incoming request came from ("" if
	// none: in the browser, bridge.PeerFromContext); federation requests whose
	// X-Matrix origin differs are refused. Nil: not checked.
	RequestPeer func(context.Context) string
	// Peers lists the servers the transport reaches now (in the browser:
	// bridge.KnownPeers); the public room directory asks them too. Nil: none.
	Peers func() []string
	// SyncAfterWake runs when news wakes a waiting /sync, before it is built
	// (in wasm: bridge.YieldToEventLoop, so the answer of the send that woke
	// it leaves first). Nil: nothing.
	SyncAfterWake func()
	// EDU is also told of each EDU received over federation, after the
	// server has applied it (typing, receipts, to-device, …); may be nil.
	EDU func(origin spec.ServerName, edu gomatrixserverlib.EDU)
	// Queue tunes the outgoing federation queue; zero is production. Its
	// Depositor, Now and Random come from the fields here.
	Queue federation.QueueOptions
	// Depositor takes, sealed, the transactions for servers that cannot be
	// reached, to their mailboxes on relays (in the browser:
	// bridge.P2PDepositor). Nil: no mailboxes; such transactions wait in the
	// queue. Mail for this server comes in through Federation.ReceiveMail.
	Depositor mailbox.Depositor
	// Client is the operator's policy for the client API: registration
	// token, CORS origins, registration rate. Zero: the browser's (open
	// registration, same origin only).
	Client clientapi.Policy
	// Blobs keeps media bytes and cold events' JSON (natively media.FileBlobs, in wasm
	// bridge.Blobs); nil: media.MemoryBlobs, for tests.
	Blobs media.BlobStore
	// PushGateway carries notifications to the users' HTTP pushers
	// (natively push.HTTPGateway, in wasm bridge.PushGateway); nil: none are
	// pushed (they are still counted and listed).
	PushGateway push.Gateway
	// PushRetry bounds the retries of a failed push; zero: push.DefaultRetry.
	PushRetry push.Retry
	// ColdEvents says which old events' JSON leaves the database for the
	// blob store (go/room cold_events.go); zero: none. For databases held
	// in memory (sql.js); it also makes the database give back freed pages.
	ColdEvents room.ColdOptions
	// UpkeepAfter holds back the background upkeep (resuming the outgoing
	// federation queue, media recovery, the cold event mover, the search
	// indexer) until it is closed; nil: it starts with the server. The wasm
	// build closes it once JS has seen the server ready: sql.js answers
	// synchronously, so Go gives the thread back only when every goroutine
	// waits, and upkeep that could run first made every start-up that much
	// later.
	UpkeepAfter <-chan struct{}
	// Media sets the media limits (one file, quota, remote cache); zero
	// values are the defaults. Its Now, Random and FetchRemote come from here.
	Media media.Options
}

// Server is one running homeserver.
type Server struct {
	Identity identity.Identity
	// Federation is the server-server side; PeerOnline(server) tells it a
	// peer is reachable again, WatchPeers and WatchPresence follow the
	// transport's list of peers.
	Federation *federation.Federation
	client     http.Handler // client-server API
	federation http.Handler // server-server and key APIs
	queue      *federation.Queue
	push       *push.Push
	// stopUpkeep ends the cold event mover, the search indexer and media
	// recovery; upkeep waits for them: a move or an index half done when the
	// caller closes the database would fail, or in the browser find its
	// storage gone.
	stopUpkeep context.CancelFunc
	upkeep     *sync.WaitGroup
}

// New loads (or on first start, creates and stores) the server's identity
// and assembles its components.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	id, err := loadIdentity(ctx, cfg.DB, cfg.Random)
	if err != nil {
		return nil, err
	}
	if cfg.Blobs == nil {
		cfg.Blobs = media.NewMemoryBlobs()
	}
	if cfg.ColdEvents.KeepNewest > 0 {
		if err := cfg.DB.GiveBackFreedPages(ctx); err != nil {
			return nil, err
		}
	}
	accounts := account.New(cfg.DB, id.ServerName, account.Options{BcryptCost: cfg.BcryptCost, Now: cfg.Now, Random: cfg.Random})

	// The queue exists before the rooms: they hand it every new event to send.
	fedClient := federation.NewClient(id, cfg.Transport, 0)
	queueOpts := cfg.Queue
	queueOpts.Depositor, queueOpts.Now, queueOpts.Random = cfg.Depositor, cfg.Now, cfg.Random
	queue := federation.NewQueue(cfg.DB, fedClient, queueOpts)
	notifier := syncapi.NewNotifier(syncapi.Token{})
	profile := func(ctx context.Context, tx *sql.Tx, user spec.UserID) (string, string, error) {
		if user.Domain() != id.ServerName {
			return "", "", nil
		}
		p, err := account.ProfileOf(ctx, tx, user.Local())
		if errors.Is(err, account.ErrUnknownUser) {
			return "", "", nil
		}
		return p.DisplayName, p.AvatarURL, err
	}
	accountData := accountdata.New(cfg.DB, notifier.AdvanceData)
	pushes := push.New(cfg.DB, accountData, id.ServerName, push.Options{Now: cfg.Now, Gateway: cfg.PushGateway, Pushers: accounts, Retry: cfg.PushRetry})
	rooms := room.New(cfg.DB, id, room.Options{
		Now: cfg.Now, Random: cfg.Random, Appended: notifier.Advance, Outbox: queue.Outbox, Profile: profile, NewEvent: pushes.NewEvent, Redacted: pushes.Redacted,
		// Always: a database moved here (a restored backup) may hold cold events.
		ColdStore: media.EventBlobs{Blobs: cfg.Blobs},
	})
	latest, err := rooms.Query.LatestPos(ctx)
	if err != nil {
		return nil, err
	}
	notifier.Advance(latest)
	latestData, err := cfg.DB.LatestDataPos(ctx)
	if err != nil {
		return nil, err
	}
	notifier.AdvanceData(latestData)

	// fed is set below; the stores' outgoing hooks reach it through closures
	// because federation, in turn, is built with the stores' incoming ones.
	var fed *federation.Federation
	eph := ephemeral.New(cfg.DB, ephemeral.Options{
		Now: cfg.Now, MemoryAdvanced: notifier.AdvanceEphemeral, DataAdvanced: notifier.AdvanceData,
		SendTyping: func(roomID string, user spec.UserID, typing bool, timeout time.Duration) {
			fed.SendTyping(roomID, user, typing, timeout)
		},
		SendReceipt: func(roomID, receiptType string, user spec.UserID, eventID, threadID string, ts int64) {
			fed.SendReceipt(roomID, receiptType, user, eventID, threadID, ts)
		},
	})
	// Other servers' users' keys and media come through the federation client.
	keyStore := keys.New(cfg.DB, id.ServerName, keys.Options{
		DataAdvanced: notifier.AdvanceData, Devices: accounts.DeviceIDs, Now: cfg.Now,
		QueryRemote: fedClient.QueryKeys, ClaimRemote: fedClient.ClaimKeys,
		SendRemote: func(ctx context.Context, sender spec.UserID, evType string, server spec.ServerName, messages map[string]map[string]json.RawMessage) error {
			return fed.SendToDevice(ctx, sender, evType, server, messages)
		},
		DeviceChanged: func(user spec.UserID, deviceID string, keys json.RawMessage) {
			fed.SendDeviceListUpdate(user, deviceID, keys)
		},
	})
	mediaStore := openMedia(cfg, id.ServerName, fedClient)
	syncer := syncapi.New(rooms.Query, notifier, syncapi.Sources{AccountData: accountData, Ephemeral: eph, Keys: keyStore, Push: pushes})
	syncer.AfterWake = cfg.SyncAfterWake

	// Federation applies every EDU it receives (into eph and keyStore).
	fed = federation.New(id, rooms, fedClient, queue, federation.Options{
		Now: cfg.Now, RequestPeer: cfg.RequestPeer, EDU: cfg.EDU, Peers: cfg.Peers,
		Ephemeral: eph, Keys: keyStore, Media: mediaStore, Accounts: accounts,
		LocalAlias: func(ctx context.Context, alias string) (string, bool, error) {
			roomID, err := rooms.Query.ResolveAlias(ctx, alias)
			if errors.Is(err, room.ErrAliasNotFound) {
				return "", false, nil
			}
			return roomID, err == nil, err
		},
	})

	api := clientapi.New(id.ServerName, clientapi.Deps{
		Accounts: accounts, Perform: rooms.Perform, Query: rooms.Query, Syncer: syncer, Filters: syncapi.NewFilters(cfg.DB),
		AccountData: accountData, Ephemeral: eph, Keys: keyStore, Media: mediaStore, Federation: fed,
		Push: pushes, Policy: cfg.Client,
	})
	upkeepCtx, stopUpkeep := context.WithCancel(context.WithoutCancel(ctx))
	upkeep := &sync.WaitGroup{}
	for _, work := range []func(context.Context){
		func(ctx context.Context) {
			// If this fails, what waits for a server goes once more is queued
			// for it or it is seen online.
			if err := queue.Start(ctx); err != nil && ctx.Err() == nil {
				logrus.WithError(err).Error("federation: resuming the outgoing queue failed")
			}
		},
		func(ctx context.Context) { rooms.RunColdMover(ctx, cfg.ColdEvents) },
		func(ctx context.Context) { rooms.RunSearchIndexer(ctx, 0) },
		func(ctx context.Context) { recoverMedia(ctx, mediaStore) },
	} {
		upkeep.Go(func() {
			if cfg.UpkeepAfter != nil {
				select {
				case <-cfg.UpkeepAfter:
				case <-upkeepCtx.Done():
					return
				}
			}
			work(upkeepCtx)
		})
	}
	// Every request, on every platform, is answered even if its handler panics.
	recovered := logrus.WithField("component", "server")
	return &Server{
		Identity: id, Federation: fed, queue: queue, push: pushes, stopUpkeep: stopUpkeep, upkeep: upkeep,
		client: errcode.Recover(api.Handler(), recovered), federation: errcode.Recover(fed.Handler(), recovered),
	}, nil
}

// ServeHTTP answers client-server, server-server and key API requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_matrix/federation/") || strings.HasPrefix(r.URL.Path, "/_matrix/key/") {
		s.federation.ServeHTTP(w, r)
		return
	}
	s.client.ServeHTTP(w, r)
}

// Close stops federation's background work, the outgoing queue, pushes, the
// cold event mover, the search indexer and media recovery, and returns once
// they have stopped. The database is the caller's.
func (s *Server) Close() {
	s.Federation.Close()
	s.queue.Close()
	s.push.Close()
	s.stopUpkeep()
	s.upkeep.Wait()
}

// loadIdentity reads the server key, generating and storing one on first start.
func loadIdentity(ctx context.Context, db *storage.DB, random io.Reader) (identity.Identity, error) {
	var key []byte
	err := db.QueryRow(ctx, `SELECT private_key FROM server_identity WHERE id = 1`).Scan(&key)
	if err == nil {
		return identity.FromKey(key)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return identity.Identity{}, fmt.Errorf("load server key: %w", err)
	}
	id, err := identity.Generate(random)
	if err != nil {
		return identity.Identity{}, err
	}
	err = db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO server_identity (id, private_key) VALUES (1, ?)`, []byte(id.Key))
		return err
	})
	if err != nil {
		return identity.Identity{}, fmt.Errorf("store server key: %w", err)
	}
	logrus.WithField("server_name", id.ServerName).Info("generated a new server identity")
	return id, nil
}
