package clientapi

import (
	"net/http"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/federation"
	"hearth/go/room"
)

// The room directory (spec 1.11, "Room directory"): which rooms are
// published, and the list of published rooms.

// directoryVisibility is GET /directory/list/room/{roomId}.
func (a *API) directoryVisibility(req *request) (any, error) {
	v, err := a.query.DirectoryVisibility(req.ctx(), req.PathValue("roomId"))
	if err != nil {
		return nil, err
	}
	return map[string]string{"visibility": v}, nil
}

// setDirectoryVisibility is PUT /directory/list/room/{roomId}.
func (a *API) setDirectoryVisibility(req *request) (any, error) {
	var body struct {
		Visibility string `json:"visibility"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	if body.Visibility != room.DirectoryPublic && body.Visibility != room.DirectoryPrivate {
		return nil, invalidParam("visibility must be public or private")
	}
	return struct{}{}, a.perform.SetDirectoryVisibility(req.ctx(), req.device.UserID, req.PathValue("roomId"), body.Visibility)
}

// publicRooms lists a page of the public rooms of this server and every
// known peer, or with ?server= of that one server (another server is given
// federation.PeerDirectoryTimeout to answer). GET pages with limit and since
// in the query; POST with limit, since and filter.generic_search_term in
// the body.
func (a *API) publicRooms(req *request) (any, error) {
	var dq federation.DirectoryQuery
	q := req.URL.Query()
	if req.Method == http.MethodPost {
		var body federation.DirectoryBody
		if err := readJSON(req.Request, &body); err != nil {
			return nil, err
		}
		dq = body.Query()
	} else {
		dq.Since = q.Get("since")
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, invalidParam("limit must be a non-negative integer")
			}
			dq.Limit = n
		}
	}
	switch server := spec.ServerName(q.Get("server")); server {
	case "":
		return a.fed.AllPublicRooms(req.ctx(), dq)
	case a.server:
		return a.fed.LocalPublicRooms(req.ctx(), dq)
	default:
		return a.fed.RemotePublicRooms(req.ctx(), server, dq)
	}
}
