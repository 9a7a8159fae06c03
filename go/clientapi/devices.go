package clientapi

func (a *API) devices(req *request) (any, error) {
	devs, err := a.accounts.Devices(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"devices": devs}, nil
}

func (a *API) device(req *request) (any, error) {
	return a.accounts.Device(req.ctx(), req.device.UserID, req.PathValue("deviceId"))
}

func (a *API) renameDevice(req *request) (any, error) {
	var body struct {
		DisplayName string `json:"display_name"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	return struct{}{}, a.accounts.RenameDevice(req.ctx(), req.device.UserID, req.PathValue("deviceId"), body.DisplayName)
}

// deleteDevicesRequest is the body of DELETE /devices/{id} and POST /delete_devices.
type deleteDevicesRequest struct {
	Auth    *authDict `json:"auth"`
	Devices []string  `json:"devices"`
}

// deleteDevice and deleteDevices need the password (UIA m.login.password): an
// access token alone must not be enough to log the owner's other devices out.
func (a *API) deleteDevice(req *request) (any, error) {
	return a.deleteDevicesAuthed(req, func(body deleteDevicesRequest) []string { return []string{req.PathValue("deviceId")} })
}

func (a *API) deleteDevices(req *request) (any, error) {
	return a.deleteDevicesAuthed(req, func(body deleteDevicesRequest) []string { return body.Devices })
}

func (a *API) deleteDevicesAuthed(req *request, which func(deleteDevicesRequest) []string) (any, error) {
	var body deleteDevicesRequest
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if challenge, err := a.requirePassword(req, body.Auth); challenge != nil || err != nil {
		return challenge, err
	}
	return struct{}{}, a.removeDevices(req, which(body))
}

// removeDevices logs devices out and forgets their keys; room mates learn of
// the change through their device lists.
func (a *API) removeDevices(req *request, ids []string) error {
	for _, id := range ids {
		if err := a.accounts.DeleteDevice(req.ctx(), req.device.UserID, id); err != nil {
			return err
		}
		if err := a.keys.DeleteDevice(req.ctx(), req.device.UserID, id); err != nil {
			return err
		}
	}
	return nil
}
