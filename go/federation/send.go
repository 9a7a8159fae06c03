package federation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// Transactions in (server-server API, "Transactions"): PUT /send/{txnId}.

// Limits of one transaction (server-server API, "Transactions").
const (
	maxTxnPDUs = 50
	maxTxnEDUs = 100
)

// transaction is the body of PUT /send.
type transaction struct {
	Origin         spec.ServerName         `json:"origin"`
	OriginServerTS spec.Timestamp          `json:"origin_server_ts"`
	PDUs           []json.RawMessage       `json:"pdus"`
	EDUs           []gomatrixserverlib.EDU `json:"edus,omitempty"`
}

// pduResult is one entry of the answer's "pdus": empty for success.
type pduResult struct {
	Error string `json:"error,omitempty"`
}

func (f *Federation) send(req *request) (any, error) {
	var txn transaction
	if err := req.readContent(&txn); err != nil {
		return nil, err
	}
	if txn.Origin != "" && txn.Origin != req.origin {
		return nil, fmt.Errorf("%w: transaction origin %s is not the signer %s", ErrUnauthorized, txn.Origin, req.origin)
	}
	if len(txn.PDUs) > maxTxnPDUs || len(txn.EDUs) > maxTxnEDUs {
		return nil, fmt.Errorf("%w: over %d PDUs or %d EDUs", ErrBadRequest, maxTxnPDUs, maxTxnEDUs)
	}
	txnID := req.PathValue("txnId")
	if answer, ok, err := f.receivedAnswer(req.ctx(), req.origin, txnID); err != nil || ok {
		return answer, err
	}
	results := map[string]pduResult{}
	for _, raw := range txn.PDUs {
		eventID, err := f.receivePDU(req.ctx(), req.origin, raw)
		if eventID == "" {
			continue // not even an event ID to answer about
		}
		if err != nil {
			results[eventID] = pduResult{Error: err.Error()}
			continue
		}
		results[eventID] = pduResult{}
	}
	for _, edu := range txn.EDUs {
		f.receiveEDU(req.ctx(), req.origin, edu)
	}
	answer, err := json.Marshal(map[string]any{"pdus": results})
	if err != nil {
		return nil, fmt.Errorf("encode transaction answer: %w", err)
	}
	if err := f.recordAnswer(req.ctx(), req.origin, txnID, answer); err != nil {
		return nil, err
	}
	return json.RawMessage(answer), nil
}

// receivePDU checks and adds one PDU of a transaction, filling gaps from its
// origin. It returns the event ID ("" if the PDU is too broken to have one).
func (f *Federation) receivePDU(ctx context.Context, origin spec.ServerName, raw json.RawMessage) (string, error) {
	var head struct {
		RoomID string `json:"room_id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	v, err := f.rooms.Query.RoomVersion(ctx, head.RoomID)
	if err != nil {
		return "", err
	}
	unchecked, err := v.NewEventFromUntrustedJSON(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	ev, err := f.parseEvent(ctx, v, raw)
	if err != nil {
		log.WithError(err).WithField("origin", origin).Warn("dropped a PDU that failed its checks")
		return unchecked.EventID(), err
	}
	outcome, err := f.process(ctx, origin, room.Incoming{Event: ev, Live: true}, true)
	if err != nil {
		log.WithError(err).WithField("event_id", ev.EventID()).Warn("could not add a received PDU")
		return ev.EventID(), err
	}
	switch outcome {
	case room.Rejected:
		return ev.EventID(), errors.New("rejected by the auth rules")
	case room.SoftFailed:
		return ev.EventID(), errors.New("refused by the room's current state")
	}
	return ev.EventID(), nil
}

// receivedAnswer returns the answer given to an earlier transaction with the
// same (origin, txnId): a retried transaction is answered, not reapplied.
func (f *Federation) receivedAnswer(ctx context.Context, origin spec.ServerName, txnID string) (json.RawMessage, bool, error) {
	var answer []byte
	err := f.queue.db.QueryRow(ctx, `SELECT response FROM federation_received WHERE origin = ? AND txn_id = ?`,
		string(origin), txnID).Scan(&answer)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up transaction %s: %w", txnID, err)
	}
	return answer, true, nil
}

func (f *Federation) recordAnswer(ctx context.Context, origin spec.ServerName, txnID string, answer []byte) error {
	return f.queue.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT OR IGNORE INTO federation_received (origin, txn_id, response) VALUES (?, ?, ?)`, string(origin), txnID, answer)
		if err != nil {
			return fmt.Errorf("record transaction %s: %w", txnID, err)
		}
		return nil
	})
}
