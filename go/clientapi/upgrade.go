package clientapi

// upgradeRoom is POST /rooms/{roomId}/upgrade (spec 1.11, "Room Upgrades").
func (a *API) upgradeRoom(req *request) (any, error) {
	var body struct {
		NewVersion string `json:"new_version"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if body.NewVersion == "" {
		return nil, badJSON("new_version is required")
	}
	newRoomID, err := a.perform.Upgrade(req.ctx(), req.device.UserID, req.PathValue("roomId"), body.NewVersion)
	if err != nil {
		return nil, err
	}
	return map[string]string{"replacement_room": newRoomID}, nil
}
