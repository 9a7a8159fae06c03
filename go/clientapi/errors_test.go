package clientapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"hearth/go/account"
	"hearth/go/errcode"
	"hearth/go/room"
	"hearth/go/storage"
)

// Errors from any layer, however deeply wrapped, get their Matrix errcode here.
func TestToMatrixError(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		errcode string
	}{
		{fmt.Errorf("register: %w", account.ErrUserInUse), http.StatusBadRequest, "M_USER_IN_USE"},
		{account.ErrUnknownToken, http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
		{fmt.Errorf("send: %w", fmt.Errorf("auth: %w", room.ErrForbidden)), http.StatusForbidden, "M_FORBIDDEN"},
		{fmt.Errorf("commit: %w", fmt.Errorf("%w: QuotaExceededError", storage.ErrFull)), http.StatusInsufficientStorage, "M_RESOURCE_LIMIT_EXCEEDED"},
		{context.Canceled, http.StatusServiceUnavailable, "M_UNKNOWN"},
		{errors.New("anything else"), http.StatusInternalServerError, "M_UNKNOWN"},
		{errcode.New(http.StatusTeapot, "M_X", "kept as is"), http.StatusTeapot, "M_X"},
	} {
		got := toMatrixError(tc.err)
		if got.Status != tc.status || got.ErrCode != tc.errcode {
			t.Errorf("%v → %d %s, want %d %s", tc.err, got.Status, got.ErrCode, tc.status, tc.errcode)
		}
	}
	// Internal errors do not leak their text to clients.
	if got := toMatrixError(errors.New("secret path /x/y")); got.Message != "internal error" {
		t.Errorf("internal error message leaked: %q", got.Message)
	}
}
