// Package room keeps rooms and their events: it builds, signs and
// authorises every event with gomatrixserverlib, stores it, and tracks each
// room's current state and forward extremities.
//
// Rooms hands out its roles as three types sharing one unexported core, so
// that a package takes only what it uses and calls point one way (roles to
// the core, Performer also to Queryer). Files go by role, the prefix saying
// which:
//
//   - perform_*: Performer, what local users do (create, send, membership,
//     redact, aliases, directory_visibility.go) and the templates built for
//     other servers' users; each builds an event at the room's extremities,
//     authorised by current state;
//   - input_*: Inputer, events from other servers (Receive, outliers, remote
//     memberships), checked against their auth events and the state before them;
//   - query_*: Queryer, reads (timeline, members, the event graph, servers,
//     aliases, directory, history visibility); they never write;
//   - the core (room.go): the database, identity, clock, auth cache, hooks
//     and the write that announces new events; state_*: how state is stored
//     (state_groups.go: deltas, and why lookups stay bounded), the current
//     state table, the state at an incoming event, and state resolution;
//     insert.go and events.go: the one way events are written and read;
//     audience.go: who a new event is announced to; redaction.go: how a redaction
//     takes effect, whoever sent it.
package room

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/identity"
	"hearth/go/storage"
)

// DefaultVersion is the room version of new rooms: stable, with the v11
// redaction and auth rules, and room IDs that still name their server.
const DefaultVersion = gomatrixserverlib.RoomVersionV11

// SupportedVersions are the room versions this server creates and joins:
// every stable version (client-server API, "Room versions"). Versions 1 and
// 2 name events "$random:origin" (the builder makes one per event; later
// versions use the reference hash), and 1 resolves state with the first
// algorithm: gomatrixserverlib's event types and ResolveConflicts follow
// the version. Version 12 differs from the others: its room IDs name no server (they are
// the create event's reference hash), its create event has no room_id and
// is never listed in auth_events, and its creators are privileged (never in
// power levels' users). gomatrixserverlib's event types hide the first two:
// RoomID() and AuthEventIDs() of a v12 event already include the create event.
var SupportedVersions = []gomatrixserverlib.RoomVersion{
	gomatrixserverlib.RoomVersionV1, gomatrixserverlib.RoomVersionV2, gomatrixserverlib.RoomVersionV3,
	gomatrixserverlib.RoomVersionV4, gomatrixserverlib.RoomVersionV5, gomatrixserverlib.RoomVersionV6,
	gomatrixserverlib.RoomVersionV7, gomatrixserverlib.RoomVersionV8, gomatrixserverlib.RoomVersionV9,
	gomatrixserverlib.RoomVersionV10, gomatrixserverlib.RoomVersionV11, gomatrixserverlib.RoomVersionV12,
}

// Supported reports whether this server creates and joins rooms of version v.
func Supported(v gomatrixserverlib.RoomVersion) bool { return slices.Contains(SupportedVersions, v) }

// Rooms is the room store of one server, by role: a package takes only the
// roles it uses. All three share one core.
type Rooms struct {
	Perform *Performer
	Input   *Inputer
	Query   *Queryer
}

// Performer does what local users ask of rooms (perform_*.go) and builds
// the templates other servers' users join and leave with.
type Performer struct {
	*core
	// query is for reads a write starts from (a user's rooms, the state to
	// copy into an upgrade).
	query *Queryer
	// transactionIDsPruned is when old client transaction IDs were last
	// forgotten (perform_send.go), ms since the epoch.
	transactionIDsPruned atomic.Int64
}

// Inputer takes in events from other servers (input_*.go).
type Inputer struct{ *core }

// Queryer reads rooms for the other packages (query_*.go); it never writes.
type Queryer struct{ *core }

// core is what every role shares: the database, this server's identity, the
// auth cache, the hooks told of new events, and the write that tells them.
type core struct {
	db       *storage.DB
	identity identity.Identity
	now      func() time.Time
	random   io.Reader
	// appended is called after each committed write that added events, with
	// the newest stream position: /sync waiters wake on it.
	appended func(StreamPos)
	// outbox queues new events for other servers; nil: no federation.
	outbox Outbox
	// profile fills display names and avatars into local users' member events.
	profile ProfileLookup
	// auth caches the current-state events local events are authorised by.
	auth *authCache
	// newEvent is told of each new timeline event; nil: nobody is.
	newEvent NewEventHook
	// redacted is told of each event a redaction took effect on; nil: nobody is.
	redacted RedactedHook
	// cold keeps the JSON of events moved out of the database (cold_events.go); nil: none are.
	cold ColdStore
	// searchDue wakes RunSearchIndexer (search_index.go); it holds one signal.
	searchDue chan struct{}
	// versions holds the room versions read from committed rows (room ID →
	// gomatrixserverlib.IRoomVersion): a room's version never changes and
	// rooms are never deleted, and every read path asks for it.
	versions sync.Map
}

// Outbox is told, inside the write that stores it, of each event to send to
// other servers and where, so that queueing is as durable as the event. It
// returns what to run once that write has committed (waking the senders), or nil.
type Outbox func(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, destinations []spec.ServerName) (afterCommit func(), err error)

// ProfileLookup returns a local user's display name and avatar URL ("" when
// unset or not a local user), reading through tx: it runs inside room writes.
type ProfileLookup func(ctx context.Context, tx *sql.Tx, user spec.UserID) (displayName, avatarURL string, err error)

// Options configure Rooms; zero values mean production defaults.
type Options struct {
	Now    func() time.Time // nil: time.Now
	Random io.Reader        // nil: crypto/rand
	// Appended is told the newest stream position after new events commit; may be nil.
	Appended func(StreamPos)
	// Outbox receives this server's new events for other servers; may be nil.
	Outbox Outbox
	// Profile fills member events' displayname and avatar_url; may be nil.
	Profile ProfileLookup
	// NewEvent is told of each new timeline event, inside its write (push
	// rules, notifications); may be nil.
	NewEvent NewEventHook
	// Redacted is told of each event a redaction took effect on, inside that
	// write (its notifications go); may be nil.
	Redacted RedactedHook
	// ColdStore keeps the JSON of old events outside the database
	// (cold_events.go); nil: they stay in it, and RunColdMover does nothing.
	ColdStore ColdStore
}

// RedactedHook is told, inside the write that redacts it, that an event's
// content is gone.
type RedactedHook func(ctx context.Context, tx *sql.Tx, eventID string) error

// New returns the room store of the server with the given identity, its
// three roles sharing one core.
func New(db *storage.DB, id identity.Identity, opts Options) *Rooms {
	r := &core{db: db, identity: id, now: opts.Now, random: opts.Random, appended: opts.Appended, outbox: opts.Outbox, auth: newAuthCache(), newEvent: opts.NewEvent, redacted: opts.Redacted, cold: opts.ColdStore, searchDue: make(chan struct{}, 1)}
	if r.now == nil {
		r.now = time.Now
	}
	if r.random == nil {
		r.random = rand.Reader
	}
	r.profile = opts.Profile
	if r.profile == nil {
		r.profile = func(context.Context, *sql.Tx, spec.UserID) (string, string, error) { return "", "", nil }
	}
	if r.appended == nil {
		r.appended = func(StreamPos) {}
	}
	q := &Queryer{r}
	return &Rooms{Perform: &Performer{core: r, query: q}, Input: &Inputer{r}, Query: q}
}

// write runs fn as the single writer and, once committed, announces the
// newest stream position if fn appended events.
func (r *core) write(ctx context.Context, fn func(w *writeTx) error) error {
	w := &writeTx{auth: &pendingAuth{gen: r.auth.begin(), rooms: map[string]*authEntry{}}}
	err := r.db.Write(ctx, func(tx *sql.Tx) error {
		w.tx = tx
		return fn(w)
	})
	if err != nil {
		return err
	}
	r.auth.add(w.auth)
	if w.lastPos > 0 {
		r.appended(w.lastPos)
	}
	if w.searchDue {
		r.wakeSearchIndexer()
	}
	for _, fn := range w.afterCommit {
		fn()
	}
	return nil
}

// writeTx is one write transaction and what it appended.
type writeTx struct {
	tx      *sql.Tx
	lastPos StreamPos
	// afterCommit runs once the transaction has committed.
	afterCommit []func()
	// auth is what this write read for the auth cache, added once it commits.
	auth *pendingAuth
	// searchDue: the write stored events the search index has yet to take in.
	searchDue bool
}

// roomVersion returns a room's version, or ErrRoomNotFound.
func roomVersion(ctx context.Context, q querier, roomID string) (gomatrixserverlib.IRoomVersion, error) {
	var version string
	err := q.QueryRowContext(ctx, `SELECT room_version FROM rooms WHERE room_id = ?`, roomID).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrRoomNotFound, roomID)
	}
	if err != nil {
		return nil, fmt.Errorf("look up room %s: %w", roomID, err)
	}
	v, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(version))
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", roomID, err)
	}
	return v, nil
}

// committedRoomVersion is roomVersion read outside any write, remembered.
// Only committed reads are kept: a version read inside a write could belong
// to a room that the write's rollback takes back.
func (c *core) committedRoomVersion(ctx context.Context, roomID string) (gomatrixserverlib.IRoomVersion, error) {
	if v, ok := c.versions.Load(roomID); ok {
		return v.(gomatrixserverlib.IRoomVersion), nil
	}
	v, err := roomVersion(ctx, reader{c.db}, roomID)
	if err != nil {
		return nil, err
	}
	c.versions.Store(roomID, v)
	return v, nil
}

// querier is what both *sql.Tx and a read-only view of the database offer.
// Inside a write, reads must go through the transaction: in wasm the database
// has a single connection, and a read outside the transaction would wait for it.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader adapts *storage.DB to querier for read-only paths.
type reader struct{ db *storage.DB }

func (r reader) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return r.db.Query(ctx, q, args...)
}
func (r reader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return r.db.QueryRow(ctx, q, args...)
}

// loadEvent parses a stored event whose ID is id. The ID is taken from the
// row rather than recomputed: gomatrixserverlib derives it by redacting,
// canonicalising and hashing the JSON (AddAuthEvents asks each loaded auth
// event for its ID), which was 10 % of all CPU in hearth-bench's profile.
// Rows hold only events this server checked and hashed. Events recently
// loaded or stored are not parsed again (parsedEvents).
func loadEvent(v gomatrixserverlib.IRoomVersion, id string, raw []byte) (gomatrixserverlib.PDU, error) {
	if ev := parsed.lookup(v.Version(), id, raw); ev != nil {
		return ev, nil
	}
	ev, err := v.NewEventFromTrustedJSONWithEventID(id, raw, false)
	if err != nil {
		return nil, fmt.Errorf("parse stored event: %w", err)
	}
	parsed.remember(ev)
	return ev, nil
}

// userIDForSender maps sender IDs to user IDs: in the room versions Hearth
// supports they are the same string.
func userIDForSender(_ spec.RoomID, sender spec.SenderID) (*spec.UserID, error) {
	return spec.NewUserID(string(sender), true)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // only called on plain maps and structs
	}
	return b
}

var log = logrus.WithField("component", "room")
