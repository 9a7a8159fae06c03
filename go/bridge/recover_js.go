//go:build js

package bridge

import (
	"fmt"
	"runtime/debug"
	"syscall/js"

	"github.com/sirupsen/logrus"
)

var log = logrus.WithField("component", "bridge")

// callJS calls v[method](args...). A JS exception, which js.Value.Call
// raises as a Go panic, comes back as an *Error instead: hearthStorage and
// hearthP2P promise not to throw, but if one does, it fails one statement
// or one request rather than ending the program.
func callJS(v js.Value, method string, args ...any) (result js.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError("call "+method, p)
		}
	}()
	return v.Call(method, args...), nil
}

// panicError turns a recovered panic into an error; a JS exception keeps its name.
func panicError(during string, p any) error {
	if jsErr, ok := p.(js.Error); ok {
		e := errorFromJS(jsErr.Value)
		e.Message = during + ": " + e.Message
		return e
	}
	log.WithFields(logrus.Fields{"panic": p, "stack": string(debug.Stack())}).Error(during + " panicked")
	return fmt.Errorf("%s: panic: %v", during, p)
}
