package media

import (
	"bytes"
	"context"
	"fmt"
)

// EventBlobs keeps old events' JSON in the blob store beside media, under
// event/<stream position> (go/room cold_events.go says which and why): one
// store, so that they are durable, backed up and restored as media are.
// Media's sweep and quota leave these keys alone.
type EventBlobs struct{ Blobs BlobStore }

// PutEventJSON stores raw for the event at pos; it returns once it is durable.
func (e EventBlobs) PutEventJSON(ctx context.Context, pos int64, raw []byte) error {
	if pos <= 0 {
		return fmt.Errorf("%w: event position %d", ErrBadKey, pos)
	}
	_, err := e.Blobs.Put(ctx, eventKey(pos), bytes.NewReader(raw), int64(len(raw)))
	return err
}

// EventJSON returns the JSON stored for the event at pos.
func (e EventBlobs) EventJSON(ctx context.Context, pos int64) ([]byte, error) {
	return e.Blobs.Get(ctx, eventKey(pos))
}

// DeleteEventJSON removes the JSON stored for the event at pos.
func (e EventBlobs) DeleteEventJSON(ctx context.Context, pos int64) error {
	return e.Blobs.Delete(ctx, eventKey(pos))
}
