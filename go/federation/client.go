package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
)

// maxResponseBytes bounds a federation response body (a send_join answer
// carries a room's whole state).
const maxResponseBytes = 32 << 20

// Client sends X-Matrix signed requests to other servers over the injected
// transport (see Scheme for the addressing).
type Client struct {
	id        identity.Identity
	transport http.RoundTripper // nil: every request fails (no network)
	// timeout bounds one request, so an unresponsive peer cannot hold a
	// queue or a client request forever.
	timeout time.Duration
}

// NewClient returns a client signing as id. transport may be nil.
func NewClient(id identity.Identity, transport http.RoundTripper, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{id: id, transport: transport, timeout: timeout}
}

// path joins escaped path segments: room and event IDs carry '!', '$' and ':'.
func path(prefix string, segments ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends one signed request and decodes a 200 answer into out (if not nil).
// Other answers become *RemoteError.
func (c *Client) do(ctx context.Context, dest spec.ServerName, method, p string, query url.Values, body, out any) error {
	_, raw, err := c.exchange(ctx, dest, method, p, query, body, maxResponseBytes)
	if err != nil || out == nil {
		return err
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(out); err != nil {
		return fmt.Errorf("%w: decode answer of %s from %s: %v", ErrBadRequest, p, dest, err)
	}
	return nil
}

// exchange sends one signed request and returns a 200 answer's headers and
// body, read up to limit bytes (a longer body is an error). Other answers
// become *RemoteError.
func (c *Client) exchange(ctx context.Context, dest spec.ServerName, method, p string, query url.Values, body any, limit int64) (http.Header, []byte, error) {
	fr, err := c.signedRequest(dest, method, p, query, body)
	if err != nil {
		return nil, nil, err
	}
	return c.roundTrip(ctx, fr, limit)
}

// signedRequest builds one request and signs it (X-Matrix). Its HTTPRequest
// may be made more than once: the queue seals the very request it failed to
// send for the destination's mailbox.
func (c *Client) signedRequest(dest spec.ServerName, method, p string, query url.Values, body any) (*fclient.FederationRequest, error) {
	if dest == c.id.ServerName {
		return nil, fmt.Errorf("%w: refusing to send %s %s to this server itself", ErrBadRequest, method, p)
	}
	requestURI := p
	if len(query) > 0 {
		requestURI += "?" + query.Encode()
	}
	fr := fclient.NewFederationRequest(method, c.id.ServerName, dest, requestURI)
	if body != nil {
		if err := fr.SetContent(body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, p, err)
		}
	}
	if err := fr.Sign(c.id.ServerName, identity.KeyID, c.id.Key); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", method, p, err)
	}
	return &fr, nil
}

// roundTrip sends a signed request; see exchange. A transport failure (the
// destination cannot be reached now) is ErrUnreachable; an answer, even an
// error answer, is not.
func (c *Client) roundTrip(ctx context.Context, fr *fclient.FederationRequest, limit int64) (http.Header, []byte, error) {
	dest, method, p := fr.Destination(), fr.Method(), fr.RequestURI()
	if c.transport == nil {
		return nil, nil, fmt.Errorf("%w: no federation transport", ErrUnreachable)
	}
	req, err := fr.HTTPRequest()
	if err != nil {
		return nil, nil, fmt.Errorf("build %s %s: %w", method, p, err)
	}
	req.URL.Scheme = Scheme
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.transport.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s %s to %s: %v", ErrUnreachable, method, p, dest, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read answer of %s from %s: %v", ErrUnreachable, p, dest, err)
	}
	if int64(len(raw)) > limit {
		return nil, nil, fmt.Errorf("%w: answer of %s from %s is over %d bytes", ErrBadRequest, p, dest, limit)
	}
	if resp.StatusCode != http.StatusOK {
		var me struct {
			ErrCode string `json:"errcode"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(raw, &me) // best effort: the status says enough
		return nil, nil, &RemoteError{Server: string(dest), Status: resp.StatusCode, ErrCode: me.ErrCode, Message: me.Error}
	}
	return resp.Header, raw, nil
}
