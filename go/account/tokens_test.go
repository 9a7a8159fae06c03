package account

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"hearth/go/storage"
)

// Authenticate answers from its cache (tokens.go), so every way a device is
// deleted must refuse its token at the very next request. Each case
// authenticates first (filling the cache), deletes, and authenticates again.
func TestDeletedDevicesTokensAreRefusedAtOnce(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := New(db, "example.org", Options{BcryptCost: bcrypt.MinCost})
	if _, err := a.Register(ctx, "alice", "pw", "FIRST", ""); err != nil {
		t.Fatal(err)
	}
	login := func(deviceID string) Device {
		t.Helper()
		dev, err := a.Login(ctx, "alice", "pw", deviceID, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := a.Authenticate(ctx, dev.AccessToken); err != nil || got != dev {
			t.Fatalf("a fresh token authenticates as %+v, %v; want %+v", got, err, dev)
		}
		if _, ok, _ := a.tokens.lookup(dev.AccessToken); !ok {
			t.Fatal("authenticating left nothing in the cache")
		}
		return dev
	}
	refused := func(dev Device) {
		t.Helper()
		if got, err := a.Authenticate(ctx, dev.AccessToken); !errors.Is(err, ErrUnknownToken) {
			t.Fatalf("a deleted device's token still authenticates: %+v, %v", got, err)
		}
	}

	t.Run("logout", func(t *testing.T) {
		dev := login("")
		if err := a.Logout(ctx, dev.AccessToken); err != nil {
			t.Fatal(err)
		}
		refused(dev)
	})
	t.Run("delete device", func(t *testing.T) {
		dev := login("")
		if err := a.DeleteDevice(ctx, dev.UserID, dev.DeviceID); err != nil {
			t.Fatal(err)
		}
		refused(dev)
	})
	t.Run("login again with the device ID", func(t *testing.T) {
		old := login("PHONE")
		fresh := login("PHONE")
		refused(old)
		if got, err := a.Authenticate(ctx, fresh.AccessToken); err != nil || got != fresh {
			t.Fatalf("the new token authenticates as %+v, %v", got, err)
		}
	})
	t.Run("password change logging out others", func(t *testing.T) {
		keep, other := login("KEEP"), login("")
		if err := a.SetPassword(ctx, "alice", "pw", true, keep.DeviceID); err != nil {
			t.Fatal(err)
		}
		refused(other)
		if _, err := a.Authenticate(ctx, keep.AccessToken); err != nil {
			t.Fatalf("the kept device was logged out: %v", err)
		}
	})
	t.Run("logout all", func(t *testing.T) {
		dev := login("")
		if err := a.LogoutAll(ctx, dev.UserID); err != nil {
			t.Fatal(err)
		}
		refused(dev)
	})
	t.Run("deactivate", func(t *testing.T) {
		dev := login("")
		if err := a.Deactivate(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		refused(dev)
	})
}

// A lookup that read a token's row before an invalidation is not cached
// after it: the row may be gone by then.
func TestTokenLookupBeforeAnInvalidationIsNotCached(t *testing.T) {
	c := newTokenCache()
	_, _, gen := c.lookup("t")
	c.invalidate()
	c.add(gen, Device{AccessToken: "t"})
	if _, ok, _ := c.lookup("t"); ok {
		t.Fatal("a fill begun before an invalidation was cached")
	}
}
