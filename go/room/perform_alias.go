package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Room aliases of this server (client-server API, "Room aliases"). Aliases
// of other servers are federation's to resolve.

// validAlias checks the grammar #localpart:server with a non-empty localpart.
func validAlias(alias string) error {
	local, server, ok := strings.Cut(strings.TrimPrefix(alias, "#"), ":")
	if !strings.HasPrefix(alias, "#") || !ok || local == "" || server == "" || len(alias) > 255 ||
		strings.ContainsAny(local, " \t\n#:") {
		return fmt.Errorf("%w: %q", ErrBadAlias, alias)
	}
	return nil
}

func insertAlias(ctx context.Context, tx *sql.Tx, alias, roomID string, creator spec.UserID) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM room_aliases WHERE alias = ?`, alias).Scan(&n); err != nil {
		return fmt.Errorf("look up alias: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s", ErrAliasInUse, alias)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO room_aliases (alias, room_id, creator) VALUES (?, ?, ?)`,
		alias, roomID, creator.String()); err != nil {
		return fmt.Errorf("insert alias: %w", err)
	}
	return nil
}

// SetAlias points a local alias at a room. The user must be joined to it.
func (r *Performer) SetAlias(ctx context.Context, user spec.UserID, alias, roomID string) error {
	if err := validAlias(alias); err != nil {
		return err
	}
	if !strings.HasSuffix(alias, ":"+string(r.identity.ServerName)) {
		return fmt.Errorf("%w: %s is not an alias of this server", ErrBadAlias, alias)
	}
	return r.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := roomVersion(ctx, tx, roomID); err != nil {
			return err
		}
		if err := requireJoined(ctx, tx, roomID, user); err != nil {
			return err
		}
		return insertAlias(ctx, tx, alias, roomID, user)
	})
}

// DeleteAlias removes a local alias: its creator may, and so may anyone
// whose power in the room suffices to change m.room.canonical_alias.
func (r *Performer) DeleteAlias(ctx context.Context, user spec.UserID, alias string) error {
	return r.db.Write(ctx, func(tx *sql.Tx) error {
		var roomID, creator string
		err := tx.QueryRowContext(ctx, `SELECT room_id, creator FROM room_aliases WHERE alias = ?`, alias).Scan(&roomID, &creator)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrAliasNotFound, alias)
		}
		if err != nil {
			return fmt.Errorf("look up alias %s: %w", alias, err)
		}
		if creator != user.String() {
			ok, err := r.mayChangeState(ctx, tx, roomID, user, spec.MRoomCanonicalAlias)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: %s did not create %s", ErrForbidden, user.String(), alias)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM room_aliases WHERE alias = ?`, alias); err != nil {
			return fmt.Errorf("delete alias %s: %w", alias, err)
		}
		return nil
	})
}
