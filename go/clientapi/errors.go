package clientapi

import (
	"errors"
	"net/http"

	"hearth/go/account"
	"hearth/go/accountdata"
	"hearth/go/errcode"
	"hearth/go/federation"
	"hearth/go/keys"
	"hearth/go/media"
	"hearth/go/pushrules"
	"hearth/go/room"
	"hearth/go/storage"
	"hearth/go/syncapi"
)

func badJSON(message string) *errcode.Error {
	return errcode.New(http.StatusBadRequest, "M_BAD_JSON", message)
}
func notFound(message string) *errcode.Error {
	return errcode.New(http.StatusNotFound, "M_NOT_FOUND", message)
}
func missingParam(message string) *errcode.Error {
	return errcode.New(http.StatusBadRequest, "M_MISSING_PARAM", message)
}
func invalidParam(message string) *errcode.Error {
	return errcode.New(http.StatusBadRequest, "M_INVALID_PARAM", message)
}

// errorTable maps the sentinel errors of the packages below to Matrix errors.
// This is the only place client API errcodes are chosen for them.
var errorTable = []errcode.Rule{
	{Err: account.ErrUserInUse, Status: http.StatusBadRequest, ErrCode: "M_USER_IN_USE"},
	{Err: account.ErrInvalidUsername, Status: http.StatusBadRequest, ErrCode: "M_INVALID_USERNAME"},
	{Err: account.ErrBadPassword, Status: http.StatusBadRequest, ErrCode: "M_WEAK_PASSWORD"},
	{Err: account.ErrWrongLogin, Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"},
	{Err: account.ErrUnknownToken, Status: http.StatusUnauthorized, ErrCode: "M_UNKNOWN_TOKEN"},
	{Err: room.ErrRoomNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: room.ErrEventNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: room.ErrForbidden, Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"},
	{Err: room.ErrBadEvent, Status: http.StatusBadRequest, ErrCode: "M_BAD_JSON"},
	{Err: room.ErrEventTooLarge, Status: http.StatusRequestEntityTooLarge, ErrCode: "M_TOO_LARGE"},
	{Err: room.ErrBadToken, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: room.ErrUnsupportedVersion, Status: http.StatusBadRequest, ErrCode: "M_UNSUPPORTED_ROOM_VERSION"},
	{Err: account.ErrUnknownUser, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: account.ErrBadProfile, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: account.ErrUnknownDevice, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: account.ErrBadDevice, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: account.ErrBadPusher, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: room.ErrBadAlias, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: room.ErrAliasInUse, Status: http.StatusConflict, ErrCode: "M_UNKNOWN"},
	{Err: room.ErrAliasNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: room.ErrStillJoined, Status: http.StatusBadRequest, ErrCode: "M_UNKNOWN"},
	{Err: accountdata.ErrNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: syncapi.ErrFilterNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: syncapi.ErrBadFilter, Status: http.StatusBadRequest, ErrCode: "M_BAD_JSON"},
	{Err: pushrules.ErrNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: pushrules.ErrBadRule, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: media.ErrNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: media.ErrTooLarge, Status: http.StatusRequestEntityTooLarge, ErrCode: "M_TOO_LARGE"},
	{Err: media.ErrNotYetUploaded, Status: http.StatusGatewayTimeout, ErrCode: "M_NOT_YET_UPLOADED"},
	{Err: media.ErrCannotOverwrite, Status: http.StatusConflict, ErrCode: "M_CANNOT_OVERWRITE_MEDIA"},
	{Err: media.ErrNotCreator, Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"},
	{Err: media.ErrTooManyPending, Status: http.StatusTooManyRequests, ErrCode: "M_LIMIT_EXCEEDED"},
	{Err: keys.ErrBadKeys, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: keys.ErrNoBackup, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: keys.ErrBadBackup, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: federation.ErrAliasNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: federation.ErrBadToken, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: federation.ErrIncompatibleVersion, Status: http.StatusBadRequest, ErrCode: "M_INCOMPATIBLE_ROOM_VERSION"},
	{Err: federation.ErrUnreachable, Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN"},
	{Err: federation.ErrBadEvent, Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN"},
	{Err: federation.ErrBadRequest, Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN"},
	{Err: storage.ErrFull, Status: http.StatusInsufficientStorage, ErrCode: "M_RESOURCE_LIMIT_EXCEEDED"},
}

// toMatrixError turns any error from a handler into the answer to send.
func toMatrixError(err error) *errcode.Error {
	var wrongVersion *keys.WrongBackupVersionError
	if errors.As(err, &wrongVersion) {
		e := errcode.New(http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION", err.Error())
		e.CurrentVersion = wrongVersion.Current
		return e
	}
	if e := errcode.Match(err, errorTable, errcode.Cancelled); e != nil {
		return e
	}
	// Another server's answer to a request made for the client (a remote
	// directory, an alias): its refusal is the client's.
	var re *federation.RemoteError
	if errors.As(err, &re) && re.Status >= 400 && re.Status < 500 && re.ErrCode != "" {
		return errcode.New(re.Status, re.ErrCode, err.Error())
	}
	return errcode.Internal()
}
