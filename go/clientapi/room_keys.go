package clientapi

import (
	"encoding/json"

	"hearth/go/keys"
)

// Server-side key backups (spec 1.11, "Server-side key backups"):
// /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]].

type backupVersionBody struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   string          `json:"version"`
}

// createBackup is POST /room_keys/version.
func (a *API) createBackup(req *request) (any, error) {
	var body backupVersionBody
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	version, err := a.keys.CreateBackup(req.ctx(), req.device.UserID, body.Algorithm, body.AuthData)
	if err != nil {
		return nil, err
	}
	return map[string]string{"version": version}, nil
}

// backup is GET /room_keys/version[/{version}]: without one, the current version.
func (a *API) backup(req *request) (any, error) {
	return a.keys.Backup(req.ctx(), req.device.UserID, req.PathValue("version"))
}

// updateBackup is PUT /room_keys/version/{version}: new auth_data, same
// algorithm; a version in the body must be the path's.
func (a *API) updateBackup(req *request) (any, error) {
	var body backupVersionBody
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	version := req.PathValue("version")
	if body.Version != "" && body.Version != version {
		return nil, invalidParam("the version in the body is not the one in the path")
	}
	return struct{}{}, a.keys.UpdateBackup(req.ctx(), req.device.UserID, version, body.Algorithm, body.AuthData)
}

// deleteBackup is DELETE /room_keys/version/{version}.
func (a *API) deleteBackup(req *request) (any, error) {
	return struct{}{}, a.keys.DeleteBackup(req.ctx(), req.device.UserID, req.PathValue("version"))
}

// putRoomKeys is PUT /room_keys/keys[/{roomId}[/{sessionId}]]?version=: the
// body is all rooms, one room's sessions, or one session's key.
func (a *API) putRoomKeys(req *request) (any, error) {
	roomID, sessionID := req.PathValue("roomId"), req.PathValue("sessionId")
	var ks keys.RoomKeys
	switch {
	case sessionID != "":
		var key keys.KeyBackupData
		if err := readJSON(req.Request, &key); err != nil {
			return nil, err
		}
		ks = keys.RoomKeys{roomID: {sessionID: key}}
	case roomID != "":
		var body struct {
			Sessions map[string]keys.KeyBackupData `json:"sessions"`
		}
		if err := readJSON(req.Request, &body); err != nil {
			return nil, err
		}
		ks = keys.RoomKeys{roomID: body.Sessions}
	default:
		var body struct {
			Rooms map[string]struct {
				Sessions map[string]keys.KeyBackupData `json:"sessions"`
			} `json:"rooms"`
		}
		if err := readJSON(req.Request, &body); err != nil {
			return nil, err
		}
		ks = keys.RoomKeys{}
		for id, r := range body.Rooms {
			ks[id] = r.Sessions
		}
	}
	version, err := requiredVersion(req)
	if err != nil {
		return nil, err
	}
	count, etag, err := a.keys.PutRoomKeys(req.ctx(), req.device.UserID, version, ks)
	if err != nil {
		return nil, err
	}
	return map[string]any{"count": count, "etag": etag}, nil
}

// roomKeys is GET /room_keys/keys[/{roomId}[/{sessionId}]]?version=, shaped
// as the path asks; a missing session is 404, a room without keys is empty.
func (a *API) roomKeys(req *request) (any, error) {
	version, err := requiredVersion(req)
	if err != nil {
		return nil, err
	}
	roomID, sessionID := req.PathValue("roomId"), req.PathValue("sessionId")
	ks, err := a.keys.RoomKeys(req.ctx(), req.device.UserID, version, roomID, sessionID)
	if err != nil {
		return nil, err
	}
	switch {
	case sessionID != "":
		key, ok := ks[roomID][sessionID]
		if !ok {
			return nil, notFound("no key for session " + sessionID)
		}
		return key, nil
	case roomID != "":
		sessions := ks[roomID]
		if sessions == nil {
			sessions = map[string]keys.KeyBackupData{}
		}
		return map[string]any{"sessions": sessions}, nil
	}
	rooms := map[string]any{}
	for id, sessions := range ks {
		rooms[id] = map[string]any{"sessions": sessions}
	}
	return map[string]any{"rooms": rooms}, nil
}

// deleteRoomKeys is DELETE /room_keys/keys[/{roomId}[/{sessionId}]]?version=.
func (a *API) deleteRoomKeys(req *request) (any, error) {
	version, err := requiredVersion(req)
	if err != nil {
		return nil, err
	}
	count, etag, err := a.keys.DeleteRoomKeys(req.ctx(), req.device.UserID, version, req.PathValue("roomId"), req.PathValue("sessionId"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"count": count, "etag": etag}, nil
}

// requiredVersion reads the version query parameter the keys endpoints need.
func requiredVersion(req *request) (string, error) {
	v := req.URL.Query().Get("version")
	if v == "" {
		return "", missingParam("version is required")
	}
	return v, nil
}
