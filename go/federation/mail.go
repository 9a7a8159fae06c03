package federation

import (
	"context"
	"fmt"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/httpmem"
	"hearth/go/httproute"
	"hearth/go/mailbox"
)

// Mail in and mail notices: what this server's mailbox on a relay hands over
// (in the browser through the bridge's hearthMailbox).

// Kinds of mail notice (MailNotice): what became of a deposit of ours.
const (
	MailDelivered = "delivered" // the recipient took it: its rows are done
	MailExpired   = "expired"   // the relay dropped it unread: send its rows again
)

// mailRoutes is the only request an envelope may hold: a transaction, served
// by the very handler a live PUT /send has (X-Matrix signature of its origin,
// addressed to us, every PDU checked, applied once per (origin, txnId)).
func (f *Federation) mailRoutes() http.Handler {
	mux := http.NewServeMux()
	httproute.Handle(mux, "PUT /_matrix/federation/v1/send/{txnId}", f.serve(signed, f.send))
	return mux
}

// ReceiveMail processes one envelope from this server's mailbox, deposited
// by from (the relay authenticated the depositor). It returns nil once done
// with it: processed, or dropped for good (undecipherable, not a transaction,
// not signed by from for this server: logged); an error only when trying again
// later may succeed (storage failed, ctx ended), and the mailbox keeps it.
//
// Mail is applied one envelope at a time, in the order handed over, so that
// a transaction finds the events of the one before it (a mailbox pushes
// oldest first).
func (f *Federation) ReceiveMail(ctx context.Context, from spec.ServerName, sealed []byte) error {
	f.mailMu.Lock()
	defer f.mailMu.Unlock()
	drop := func(why string) error {
		log.WithField("from", from).Warn("dropped mail: " + why)
		return nil
	}
	req, err := mailbox.Open(sealed, f.id.Key)
	if err != nil {
		return drop(err.Error())
	}
	if origin, _ := xMatrix(req.Header); origin != from {
		return drop("signed as " + string(origin) + ", deposited by another server")
	}
	status, _, body := httpmem.Serve(f.mail, req.WithContext(ctx))
	switch {
	case status == http.StatusOK:
		return nil
	case status >= http.StatusInternalServerError:
		return fmt.Errorf("process mail from %s: %d %s", from, status, body)
	default:
		return drop(fmt.Sprintf("refused %s %s: %d %s", req.Method, req.URL.Path, status, body))
	}
}

// MailNotice records a notice about deposit ref of ours for server to (see
// MailDelivered, MailExpired); other kinds are ignored (a newer relay may say
// more). An error means the notice was not recorded: it should come again.
func (f *Federation) MailNotice(ctx context.Context, kind string, to spec.ServerName, ref string) error {
	switch kind {
	case MailDelivered:
		return f.queue.mailDelivered(ctx, to, ref)
	case MailExpired:
		log.WithField("destination", to).WithField("txn_id", ref).Info("mail expired unread; sending it again")
		return f.queue.mailExpired(ctx, to, ref)
	}
	log.WithField("kind", kind).Debug("ignored a mail notice of unknown kind")
	return nil
}
