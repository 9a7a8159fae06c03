package syncapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// ErrFilterNotFound means the user has no filter of that ID.
var ErrFilterNotFound = errors.New("filter not found")

// ErrBadFilter means a filter is not valid JSON of the filter's shape.
var ErrBadFilter = errors.New("invalid filter")

// Filter is the subset of the spec's Filter (client-server API, "Filtering")
// that Hearth applies; other fields are stored and returned untouched.
type Filter struct {
	Room        RoomFilter  `json:"room"`
	Presence    EventFilter `json:"presence"`
	AccountData EventFilter `json:"account_data"`
}

// RoomFilter filters the rooms part of a sync.
type RoomFilter struct {
	Rooms       *[]string       `json:"rooms"`
	NotRooms    []string        `json:"not_rooms"`
	Timeline    RoomEventFilter `json:"timeline"`
	State       RoomEventFilter `json:"state"`
	Ephemeral   RoomEventFilter `json:"ephemeral"`
	AccountData RoomEventFilter `json:"account_data"`
}

// EventFilter selects events by type; types may end in '*'.
type EventFilter struct {
	Limit    int       `json:"limit"`
	Types    *[]string `json:"types"`
	NotTypes []string  `json:"not_types"`
}

// RoomEventFilter is an EventFilter for room events.
type RoomEventFilter struct {
	EventFilter
	// LazyLoadMembers: state carries only the members who sent timeline events.
	LazyLoadMembers bool `json:"lazy_load_members"`
	// ContainsURL, when set, keeps only events whose content has (true) or
	// lacks (false) a "url" key.
	ContainsURL *bool     `json:"contains_url"`
	Senders     *[]string `json:"senders"`
	NotSenders  []string  `json:"not_senders"`
	// UnreadThreadNotifications: /sync counts each thread's notifications
	// apart (unread_thread_notifications), not in the room's.
	UnreadThreadNotifications bool `json:"unread_thread_notifications"`
}

// Allows applies the types, senders and contains_url of the filter.
func (f RoomEventFilter) Allows(ev gomatrixserverlib.PDU) bool {
	if !f.allowsType(ev.Type()) {
		return false
	}
	sender := string(ev.SenderID())
	if slices.Contains(f.NotSenders, sender) || (f.Senders != nil && !slices.Contains(*f.Senders, sender)) {
		return false
	}
	if f.ContainsURL != nil {
		var c struct {
			URL json.RawMessage `json:"url"`
		}
		_ = json.Unmarshal(ev.Content(), &c)
		if (c.URL != nil) != *f.ContainsURL {
			return false
		}
	}
	return true
}

// allowsType applies types and not_types; not_types wins.
func (f EventFilter) allowsType(t string) bool {
	for _, nt := range f.NotTypes {
		if typeMatches(nt, t) {
			return false
		}
	}
	if f.Types == nil {
		return true
	}
	for _, pattern := range *f.Types {
		if typeMatches(pattern, t) {
			return true
		}
	}
	return false
}

func typeMatches(pattern, t string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(t, prefix)
	}
	return pattern == t
}

// allowsRoom applies rooms and not_rooms.
func (f RoomFilter) allowsRoom(roomID string) bool {
	for _, r := range f.NotRooms {
		if r == roomID {
			return false
		}
	}
	if f.Rooms == nil {
		return true
	}
	for _, r := range *f.Rooms {
		if r == roomID {
			return true
		}
	}
	return false
}

// ParseFilter reads a filter definition.
func ParseFilter(raw []byte) (*Filter, error) {
	var f Filter
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFilter, err)
	}
	return &f, nil
}

// Filters stores users' filters.
type Filters struct{ db *storage.DB }

// NewFilters returns the filter store.
func NewFilters(db *storage.DB) *Filters { return &Filters{db: db} }

// Create stores a filter and returns its ID.
func (f *Filters) Create(ctx context.Context, user spec.UserID, raw json.RawMessage) (string, error) {
	if _, err := ParseFilter(raw); err != nil {
		return "", err
	}
	var id int64
	err := f.db.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE localpart = ?`,
			user.Local()).Scan(&id); err != nil {
			return fmt.Errorf("number filter: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO filters (localpart, filter_id, json) VALUES (?, ?, ?)`, user.Local(), id, []byte(raw))
		if err != nil {
			return fmt.Errorf("store filter: %w", err)
		}
		return nil
	})
	return strconv.FormatInt(id, 10), err
}

// Get returns a stored filter's JSON as the user gave it.
func (f *Filters) Get(ctx context.Context, user spec.UserID, id string) (json.RawMessage, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrFilterNotFound, id)
	}
	var raw []byte
	err = f.db.QueryRow(ctx, `SELECT json FROM filters WHERE localpart = ? AND filter_id = ?`, user.Local(), n).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrFilterNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("load filter: %w", err)
	}
	return raw, nil
}

// Resolve turns /sync's filter parameter (an ID or inline JSON) into a Filter;
// "" gives the empty filter.
func (f *Filters) Resolve(ctx context.Context, user spec.UserID, param string) (*Filter, error) {
	if param == "" {
		return &Filter{}, nil
	}
	raw := []byte(param)
	if !strings.HasPrefix(strings.TrimSpace(param), "{") {
		var err error
		if raw, err = f.Get(ctx, user, param); err != nil {
			return nil, err
		}
	}
	return ParseFilter(raw)
}
