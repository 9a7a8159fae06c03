package clientapi

import (
	"context"
	"errors"
	"net/http"

	"hearth/go/account"
	"hearth/go/accountdata"
	"hearth/go/federation"
	"hearth/go/keys"
	"hearth/go/media"
	"hearth/go/pushrules"
	"hearth/go/room"
	"hearth/go/storage"
	"hearth/go/syncapi"
)

// matrixError is an error response with its Matrix errcode (client-server
// API, "Standard error response").
type matrixError struct {
	Status  int    `json:"-"`
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
}

func (e *matrixError) Error() string { return e.ErrCode + ": " + e.Message }

func newError(status int, errcode, message string) *matrixError {
	return &matrixError{Status: status, ErrCode: errcode, Message: message}
}

func badJSON(message string) *matrixError {
	return newError(http.StatusBadRequest, "M_BAD_JSON", message)
}
func notFound(message string) *matrixError {
	return newError(http.StatusNotFound, "M_NOT_FOUND", message)
}
func invalidParam(message string) *matrixError {
	return newError(http.StatusBadRequest, "M_INVALID_PARAM", message)
}

// errorTable maps the sentinel errors of the packages below to Matrix errors.
// This is the only place errcodes are chosen for them.
var errorTable = []struct {
	err     error
	status  int
	errcode string
}{
	{account.ErrUserInUse, http.StatusBadRequest, "M_USER_IN_USE"},
	{account.ErrInvalidUsername, http.StatusBadRequest, "M_INVALID_USERNAME"},
	{account.ErrBadPassword, http.StatusBadRequest, "M_WEAK_PASSWORD"},
	{account.ErrWrongLogin, http.StatusForbidden, "M_FORBIDDEN"},
	{account.ErrUnknownToken, http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
	{room.ErrRoomNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{room.ErrEventNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{room.ErrForbidden, http.StatusForbidden, "M_FORBIDDEN"},
	{room.ErrBadEvent, http.StatusBadRequest, "M_BAD_JSON"},
	{room.ErrBadToken, http.StatusBadRequest, "M_INVALID_PARAM"},
	{room.ErrUnsupportedVersion, http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION"},
	{account.ErrUnknownUser, http.StatusNotFound, "M_NOT_FOUND"},
	{account.ErrBadProfile, http.StatusBadRequest, "M_INVALID_PARAM"},
	{account.ErrUnknownDevice, http.StatusNotFound, "M_NOT_FOUND"},
	{room.ErrBadAlias, http.StatusBadRequest, "M_INVALID_PARAM"},
	{room.ErrAliasInUse, http.StatusConflict, "M_UNKNOWN"},
	{room.ErrAliasNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{room.ErrStillJoined, http.StatusBadRequest, "M_UNKNOWN"},
	{accountdata.ErrNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{syncapi.ErrFilterNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{syncapi.ErrBadFilter, http.StatusBadRequest, "M_BAD_JSON"},
	{pushrules.ErrNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{pushrules.ErrBadRule, http.StatusBadRequest, "M_INVALID_PARAM"},
	{media.ErrNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{media.ErrTooLarge, http.StatusRequestEntityTooLarge, "M_TOO_LARGE"},
	{keys.ErrBadKeys, http.StatusBadRequest, "M_INVALID_PARAM"},
	{federation.ErrAliasNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{federation.ErrBadToken, http.StatusBadRequest, "M_INVALID_PARAM"},
	{federation.ErrIncompatibleVersion, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
	{federation.ErrUnreachable, http.StatusBadGateway, "M_UNKNOWN"},
	{federation.ErrBadEvent, http.StatusBadGateway, "M_UNKNOWN"},
	{federation.ErrBadRequest, http.StatusBadGateway, "M_UNKNOWN"},
	{storage.ErrFull, http.StatusInsufficientStorage, "M_RESOURCE_LIMIT_EXCEEDED"},
}

// toMatrixError turns any error from a handler into the response to send.
func toMatrixError(err error) *matrixError {
	var me *matrixError
	if errors.As(err, &me) {
		return me
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return newError(e.status, e.errcode, err.Error())
		}
	}
	// Another server's answer to a request made for the client (a remote
	// directory, an alias): its refusal is the client's.
	var re *federation.RemoteError
	if errors.As(err, &re) && re.Status >= 400 && re.Status < 500 && re.ErrCode != "" {
		return newError(re.Status, re.ErrCode, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return newError(http.StatusServiceUnavailable, "M_UNKNOWN", "request cancelled: "+err.Error())
	}
	return newError(http.StatusInternalServerError, "M_UNKNOWN", "internal error")
}
