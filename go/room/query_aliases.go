package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Reading this server's room aliases (perform_alias.go sets them).

// ResolveAlias returns the room a local alias points at, or ErrAliasNotFound.
func (r *Queryer) ResolveAlias(ctx context.Context, alias string) (string, error) {
	var roomID string
	err := r.db.QueryRow(ctx, `SELECT room_id FROM room_aliases WHERE alias = ?`, alias).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrAliasNotFound, alias)
	}
	if err != nil {
		return "", fmt.Errorf("resolve alias %s: %w", alias, err)
	}
	return roomID, nil
}

// LocalAliases returns a room's aliases on this server.
func (r *Queryer) LocalAliases(ctx context.Context, roomID string) ([]string, error) {
	rows, err := r.db.Query(ctx, `SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias`, roomID)
	if err != nil {
		return nil, fmt.Errorf("load aliases of %s: %w", roomID, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("load aliases of %s: %w", roomID, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
