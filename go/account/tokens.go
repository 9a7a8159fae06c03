package account

import "sync"

// maxCachedTokens bounds tokenCache: past it the cache starts again empty.
const maxCachedTokens = 1024

// tokenCache keeps the devices Authenticate found, by access token, so that
// a request no longer reads the devices table to learn who sent it.
//
// Why: that read was one SQL statement on every authenticated request; in
// wasm each statement crosses the storage bridge, and it was 6 % of a
// message send's CPU in V8's profile of bench/wasm-send.js.
//
// Why it stays right: a token maps to one (user, device) for as long as its
// row exists, and rows are only deleted (a device's token never changes in
// place: Login with an existing device ID deletes the row and makes a new
// token). Every method that deletes devices calls invalidate once its write
// has returned, before it answers: the next request with a deleted token is
// refused. invalidate also bumps gen, so a lookup that read the old row
// before it is not stored after it. Tokens not found are not cached.
type tokenCache struct {
	mu sync.Mutex
	// gen counts invalidations; guarded by mu.
	gen uint64
	// devices: access token → its device; guarded by mu.
	devices map[string]Device
}

func newTokenCache() *tokenCache { return &tokenCache{devices: map[string]Device{}} }

// lookup returns the cached device of token, and the generation a lookup
// that misses must hand to add.
func (c *tokenCache) lookup(token string) (Device, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dev, ok := c.devices[token]
	return dev, ok, c.gen
}

// add stores what a lookup begun at gen read, unless invalidated since.
func (c *tokenCache) add(gen uint64, dev Device) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.devices) >= maxCachedTokens {
		clear(c.devices)
	}
	c.devices[dev.AccessToken] = dev
}

// invalidate forgets every token and drops lookups begun before it.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.devices)
}
