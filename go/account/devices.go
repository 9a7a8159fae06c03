package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// DeviceInfo is a device as GET /devices lists it.
type DeviceInfo struct {
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
	LastSeenTS  int64  `json:"last_seen_ts,omitempty"` // login time: Hearth does not track use
}

// Devices lists a local user's devices.
func (a *Accounts) Devices(ctx context.Context, user spec.UserID) ([]DeviceInfo, error) {
	rows, err := a.db.Query(ctx, `SELECT device_id, display_name, created_ts FROM devices WHERE localpart = ? ORDER BY device_id`, user.Local())
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	out := []DeviceInfo{}
	for rows.Next() {
		var d DeviceInfo
		if err := rows.Scan(&d.DeviceID, &d.DisplayName, &d.LastSeenTS); err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeviceIDs lists a local user's device IDs.
func (a *Accounts) DeviceIDs(ctx context.Context, user spec.UserID) ([]string, error) {
	devs, err := a.Devices(ctx, user)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.DeviceID
	}
	return ids, nil
}

// Device returns one of a user's devices, or ErrUnknownDevice.
func (a *Accounts) Device(ctx context.Context, user spec.UserID, deviceID string) (DeviceInfo, error) {
	d := DeviceInfo{DeviceID: deviceID}
	err := a.db.QueryRow(ctx, `SELECT display_name, created_ts FROM devices WHERE localpart = ? AND device_id = ?`,
		user.Local(), deviceID).Scan(&d.DisplayName, &d.LastSeenTS)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("%w: %s", ErrUnknownDevice, deviceID)
	}
	if err != nil {
		return d, fmt.Errorf("load device %s: %w", deviceID, err)
	}
	return d, nil
}

// Bounds on what a client names a device. The spec sets none; without them
// one login stored a 500 KB device_id (issue 11). Synapse's figures.
const (
	maxDeviceIDLength   = 255
	maxDeviceNameLength = 100
)

// validateDevice checks a client-chosen device ID and display name.
func validateDevice(deviceID, displayName string) error {
	if len(deviceID) > maxDeviceIDLength {
		return fmt.Errorf("%w: device_id is over %d bytes", ErrBadDevice, maxDeviceIDLength)
	}
	if len(displayName) > maxDeviceNameLength {
		return fmt.Errorf("%w: device display name is over %d bytes", ErrBadDevice, maxDeviceNameLength)
	}
	return nil
}

// RenameDevice sets a device's display name.
func (a *Accounts) RenameDevice(ctx context.Context, user spec.UserID, deviceID, name string) error {
	if err := validateDevice(deviceID, name); err != nil {
		return err
	}
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET display_name = ? WHERE localpart = ? AND device_id = ?`, name, user.Local(), deviceID)
		if err != nil {
			return fmt.Errorf("rename device %s: %w", deviceID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", ErrUnknownDevice, deviceID)
		}
		return nil
	})
}

// DeleteDevice logs a device out for good (its access token stops working).
// Deleting an unknown device is not an error: the spec's DELETE is idempotent.
func (a *Accounts) DeleteDevice(ctx context.Context, user spec.UserID, deviceID string) error {
	defer a.tokens.invalidate()
	return a.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE localpart = ? AND device_id = ?`, user.Local(), deviceID); err != nil {
			return fmt.Errorf("delete device %s: %w", deviceID, err)
		}
		return nil
	})
}
