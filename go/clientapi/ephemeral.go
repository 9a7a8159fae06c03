package clientapi

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"hearth/go/ephemeral"
	"hearth/go/room"
)

func (a *API) typing(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	var body struct {
		Typing  bool  `json:"typing"`
		Timeout int64 `json:"timeout"` // ms
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	roomID := req.PathValue("roomId")
	if err := a.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	timeout := time.Duration(body.Timeout) * time.Millisecond
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	a.ephemeral.SetTyping(roomID, u, body.Typing, timeout)
	return struct{}{}, nil
}

// receipt is POST /rooms/{roomId}/receipt/{receiptType}/{eventId}, with an
// optional thread_id (client-server API v1.11, "Threaded read receipts").
func (a *API) receipt(req *request) (any, error) {
	var body struct {
		ThreadID json.RawMessage `json:"thread_id"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	roomID, eventID := req.PathValue("roomId"), req.PathValue("eventId")
	if err := a.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	threadID, threaded := "", len(body.ThreadID) > 0 && string(body.ThreadID) != "null"
	if threaded {
		// The spec's 400: not a string, empty, or given for a receipt type
		// that has no threads.
		if json.Unmarshal(body.ThreadID, &threadID) != nil || threadID == "" {
			return nil, invalidParam("thread_id must be a non-empty string")
		}
	}
	switch rt := req.PathValue("receiptType"); rt {
	case ephemeral.ReceiptRead, ephemeral.ReceiptReadPrivate:
		if threaded {
			if err := a.checkReceiptThread(req, roomID, eventID, threadID); err != nil {
				return nil, err
			}
		}
		return struct{}{}, a.ephemeral.SetReceipt(req.ctx(), roomID, rt, req.device.UserID, eventID, threadID)
	case fullyRead:
		if threaded {
			return nil, invalidParam("m.fully_read takes no thread_id")
		}
		return struct{}{}, a.setFullyRead(req, roomID, eventID)
	default:
		return nil, invalidParam("unknown receipt type " + rt)
	}
}

// checkReceiptThread refuses a threaded receipt whose event is not in that
// thread (the spec's "the event_id is not related to the thread_id"):
// "main" takes events of the main timeline (thread roots included), a
// thread root's ID the root and the events in its thread. A receipt for an
// event this server does not hold is taken as it comes.
func (a *API) checkReceiptThread(req *request, roomID, eventID, threadID string) error {
	if threadID != ephemeral.ThreadMain && !strings.HasPrefix(threadID, "$") {
		return invalidParam("thread_id must be \"main\" or the event ID of a thread root")
	}
	in, err := a.query.ThreadOf(req.ctx(), roomID, eventID)
	if errors.Is(err, room.ErrEventNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case threadID == ephemeral.ThreadMain && in != "":
		return invalidParam(eventID + " is in the thread of " + in + ", not the main timeline")
	case threadID != ephemeral.ThreadMain && in != threadID && eventID != threadID:
		return invalidParam(eventID + " is not in the thread of " + threadID)
	}
	return nil
}

// fullyRead is the read marker: room account data, not a receipt
// (client-server API, "Fully read markers").
const fullyRead = "m.fully_read"

func (a *API) setFullyRead(req *request, roomID, eventID string) error {
	content, _ := json.Marshal(map[string]string{"event_id": eventID})
	return a.accountData.Put(req.ctx(), req.device.UserID, roomID, fullyRead, content)
}

func (a *API) readMarkers(req *request) (any, error) {
	var body map[string]string
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	roomID := req.PathValue("roomId")
	if err := a.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	if id := body[fullyRead]; id != "" {
		if err := a.setFullyRead(req, roomID, id); err != nil {
			return nil, err
		}
	}
	for _, rt := range []string{ephemeral.ReceiptRead, ephemeral.ReceiptReadPrivate} {
		if id := body[rt]; id != "" {
			if err := a.ephemeral.SetReceipt(req.ctx(), roomID, rt, req.device.UserID, id, ""); err != nil {
				return nil, err
			}
		}
	}
	return struct{}{}, nil
}

func (a *API) getPresence(req *request) (any, error) {
	u, err := pathUser(req)
	if err != nil {
		return nil, err
	}
	p := a.ephemeral.GetPresence(u)
	resp := map[string]any{"presence": p.State, "currently_active": p.CurrentActive}
	if !p.LastActive.IsZero() {
		resp["last_active_ago"] = time.Since(p.LastActive).Milliseconds()
	}
	if p.StatusMsg != "" {
		resp["status_msg"] = p.StatusMsg
	}
	return resp, nil
}

func (a *API) putPresence(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	var body struct {
		Presence  string `json:"presence"`
		StatusMsg string `json:"status_msg"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	switch body.Presence {
	case ephemeral.Online, ephemeral.Offline, ephemeral.Unavailable:
	default:
		return nil, invalidParam("presence must be online, offline or unavailable")
	}
	a.ephemeral.SetPresence(u, body.Presence, body.StatusMsg)
	return struct{}{}, nil
}
