//go:build !js

package push

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTPGateway is the native Gateway: net/http. (In js/wasm the JS layer
// makes the request: bridge.PushGateway.)
type HTTPGateway struct {
	// Client makes the requests; nil: one with a 30 s timeout.
	Client *http.Client
}

// maxGatewayResponse bounds what is read of a gateway's answer.
const maxGatewayResponse = 64 << 10

// Notify POSTs body to url.
func (g HTTPGateway) Notify(ctx context.Context, url string, body []byte) (int, []byte, error) {
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("push to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("push to %s: %w", url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayResponse))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer of %s: %w", url, err)
	}
	return resp.StatusCode, answer, nil
}
