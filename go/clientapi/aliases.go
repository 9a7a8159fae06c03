package clientapi

// Room aliases (client-server API, "Room aliases"): create, resolve,
// delete and list a room's local aliases.

func (a *API) putAlias(req *request) (any, error) {
	var body struct {
		RoomID string `json:"room_id"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if body.RoomID == "" {
		return nil, badJSON("room_id is required")
	}
	return struct{}{}, a.perform.SetAlias(req.ctx(), req.device.UserID, req.PathValue("alias"), body.RoomID)
}

// getAlias resolves an alias: this server's from its table, another
// server's by asking it (federation query/directory).
func (a *API) getAlias(req *request) (any, error) {
	roomID, servers, err := a.fed.ResolveAlias(req.ctx(), req.PathValue("alias"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"room_id": roomID, "servers": servers}, nil
}

func (a *API) deleteAlias(req *request) (any, error) {
	alias := req.PathValue("alias")
	roomID, err := a.query.ResolveAlias(req.ctx(), alias)
	if err != nil {
		return nil, err
	}
	if err := a.perform.DeleteAlias(req.ctx(), req.device.UserID, alias); err != nil {
		return nil, err
	}
	a.dropCanonicalAlias(req.ctx(), req.device, roomID, alias)
	return struct{}{}, nil
}

func (a *API) roomAliases(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	// Members, and anyone while the room is world_readable (spec 1.11,
	// "GET /rooms/{roomId}/aliases" allows servers that check).
	if err := a.query.RequireJoined(req.ctx(), roomID, req.device.UserID); err != nil {
		open, openErr := a.query.WorldReadable(req.ctx(), roomID)
		if openErr != nil {
			return nil, openErr
		}
		if !open {
			return nil, err
		}
	}
	aliases, err := a.query.LocalAliases(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"aliases": aliases}, nil
}
