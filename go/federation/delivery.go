package federation

import (
	"context"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Delivery says where one of this server's events is on its way to another
// server, as far as this server knows.
type Delivery string

const (
	// Delivered: nothing of it waits here. The server answered its
	// transaction, or the server's mailbox said it took it (or, past the
	// queue's bound, the row was dropped and the server will fetch it).
	Delivered Delivery = "delivered"
	// InMailbox: deposited in the server's mailbox on a relay, not yet taken.
	InMailbox Delivery = "mailbox"
	// Queued: in this server's queue, not yet handed over.
	Queued Delivery = "queued"
)

// EventDelivery is where one event is, for every server it waits for.
type EventDelivery struct {
	// State is the worst of Waiting (Queued before InMailbox), Delivered when
	// Waiting is empty.
	State   Delivery
	Waiting map[spec.ServerName]Delivery
}

// DeliveryOf returns the delivery of each of eventIDs (each gets an entry;
// an event this server never queued is Delivered).
func (f *Federation) DeliveryOf(ctx context.Context, eventIDs []string) (map[string]EventDelivery, error) {
	out := make(map[string]EventDelivery, len(eventIDs))
	for _, id := range eventIDs {
		out[id] = EventDelivery{State: Delivered, Waiting: map[spec.ServerName]Delivery{}}
	}
	if len(eventIDs) == 0 {
		return out, nil
	}
	// A deposit whose time is up counts as queued: the queue sends it again.
	rows, err := f.queue.db.Query(ctx,
		`SELECT event_id, destination, mailbox_ref IS NOT NULL AND mailbox_expires_ts > ? FROM federation_queue
		 WHERE event_id IN (`+placeholders(len(eventIDs))+`)`,
		append([]any{f.queue.opts.Now().UnixMilli()}, anys(eventIDs)...)...)
	if err != nil {
		return nil, fmt.Errorf("load delivery state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var eventID, dest string
		var inMailbox bool
		if err := rows.Scan(&eventID, &dest, &inMailbox); err != nil {
			return nil, fmt.Errorf("load delivery state: %w", err)
		}
		d := out[eventID]
		where := Queued
		if inMailbox {
			where = InMailbox
		}
		if d.Waiting[spec.ServerName(dest)] != Queued {
			d.Waiting[spec.ServerName(dest)] = where
		}
		if d.State != Queued {
			d.State = where
		}
		out[eventID] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load delivery state: %w", err)
	}
	return out, nil
}
