package push

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/account"
)

// delivery is one notification to push to every HTTP pusher of its user.
type delivery struct {
	user       spec.UserID
	event      gomatrixserverlib.PDU
	actions    []any
	senderName string
}

// attempt is one pusher's share of a delivery, and how many tries it had.
type attempt struct {
	delivery
	pusher account.Pusher
	tries  int
}

// enqueue hands a committed notification to the workers, dropping it when
// too many wait (the user's next sync still shows it).
func (p *Push) enqueue(d delivery) {
	select {
	case p.queue <- d:
	default:
		log.WithField("event_id", d.event.EventID()).Warn("push queue full: notification not pushed")
	}
}

func (p *Push) work() {
	defer p.done.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case d := <-p.queue:
			p.deliver(p.ctx, d)
		}
	}
}

// retryLater tries a again after its back-off: First, doubling, at most Max.
func (p *Push) retryLater(a attempt) {
	wait := p.opts.Retry.First << (a.tries - 1)
	if wait > p.opts.Retry.Max || wait <= 0 {
		wait = p.opts.Retry.Max
	}
	if p.retrying.Add(1) > maxRetrying {
		p.retrying.Add(-1)
		log.WithField("event_id", a.event.EventID()).Warn("too many pushes waiting to be retried: this one is dropped")
		return
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		defer p.retrying.Add(-1)
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-p.ctx.Done():
		case <-timer.C:
			p.try(p.ctx, a)
		}
	}()
}

// deliver pushes d to each HTTP pusher of its user.
func (p *Push) deliver(ctx context.Context, d delivery) {
	pushers, err := p.opts.Pushers.Pushers(ctx, d.user)
	if err != nil {
		log.WithError(err).Warn("push: cannot load pushers")
		return
	}
	for _, pusher := range pushers {
		if pusher.Kind == "http" {
			p.try(ctx, attempt{delivery: d, pusher: pusher})
		}
	}
}

// try makes one attempt, scheduling the next on a transient failure (no
// answer, 429 or 5xx) until the attempts run out. A pushkey the gateway
// rejects loses its pusher (push gateway API: "rejected").
func (p *Push) try(ctx context.Context, a attempt) {
	a.tries++
	var data struct {
		URL    string `json:"url"`
		Format string `json:"format"`
	}
	_ = json.Unmarshal(a.pusher.Data, &data)
	body, err := p.notifyBody(ctx, a, data.Format)
	if err != nil {
		log.WithError(err).Warn("push: cannot build the notification")
		return
	}
	status, answer, err := p.opts.Gateway.Notify(ctx, data.URL, body)
	logger := log.WithField("event_id", a.event.EventID()).WithField("app_id", a.pusher.AppID).WithField("try", a.tries)
	switch {
	case ctx.Err() != nil:
		return
	case err == nil && status >= 200 && status < 300:
		var r struct {
			Rejected []string `json:"rejected"`
		}
		_ = json.Unmarshal(answer, &r)
		for _, key := range r.Rejected {
			if key != a.pusher.PushKey {
				continue
			}
			logger.Info("push gateway rejected the pushkey: pusher removed")
			if err := p.opts.Pushers.DeletePusher(ctx, a.user, a.pusher.AppID, key); err != nil {
				logger.WithError(err).Warn("push: cannot remove a rejected pusher")
			}
		}
		return
	case err == nil && status != http.StatusTooManyRequests && status < 500:
		logger.WithField("status", status).Warn("push gateway refused the notification: not retried")
		return
	}
	if a.tries >= p.opts.Retry.Attempts {
		logger.WithError(err).WithField("status", status).Warn("push gateway unreachable: giving up")
		return
	}
	logger.WithError(err).WithField("status", status).Info("push failed: will retry")
	p.retryLater(a)
}

// notifyBody is the push gateway API's POST /_matrix/push/v1/notify body for
// one pusher: the event's details, or with format event_id_only just its ID
// and room (spec v1.11, "HTTP pushers": the gateway fetches the rest).
func (p *Push) notifyBody(ctx context.Context, a attempt, format string) ([]byte, error) {
	unread, err := p.totalUnread(ctx, a.user)
	if err != nil {
		return nil, err
	}
	var data map[string]any
	_ = json.Unmarshal(a.pusher.Data, &data)
	delete(data, "url")
	dev := map[string]any{"app_id": a.pusher.AppID, "pushkey": a.pusher.PushKey, "data": data, "tweaks": tweaksOf(a.actions)}
	n := map[string]any{
		"event_id": a.event.EventID(), "room_id": a.event.RoomID().String(),
		"counts":  map[string]int{"unread": unread},
		"devices": []any{dev},
		"prio":    "low",
	}
	if tweaks := dev["tweaks"].(map[string]any); tweaks["sound"] != nil || tweaks["highlight"] == true {
		n["prio"] = "high"
	}
	if format != "event_id_only" {
		n["type"] = a.event.Type()
		n["sender"] = string(a.event.SenderID())
		n["content"] = json.RawMessage(a.event.Content())
		if a.senderName != "" {
			n["sender_display_name"] = a.senderName
		}
		if sk := a.event.StateKey(); sk != nil && a.event.Type() == spec.MRoomMember {
			n["membership"], _ = a.event.Membership()
			n["user_is_target"] = *sk == a.user.String()
		}
	}
	body, err := json.Marshal(map[string]any{"notification": n})
	if err != nil {
		return nil, fmt.Errorf("marshal notification: %w", err)
	}
	return body, nil
}

// tweaksOf collects the set_tweak actions: tweak → value (true when none given).
func tweaksOf(actions []any) map[string]any {
	out := map[string]any{}
	for _, a := range actions {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		name, ok := m["set_tweak"].(string)
		if !ok {
			continue
		}
		if v, set := m["value"]; set {
			out[name] = v
		} else {
			out[name] = true
		}
	}
	return out
}
