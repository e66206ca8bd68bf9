package counter

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in httpapi; nothing else decides a status.
const (
	// EUNAVAILABLE: the store cannot be reached or did not answer in time. Retrying later helps.
	EUNAVAILABLE = "unavailable"
	// ECANCELED: the caller gave up (an HTTP client hung up) before the store answered. Not a
	// store failure: nobody is waiting for the answer, and the visit may still be counted.
	ECANCELED = "canceled"
	// EINTERNAL: anything unexpected. The details are logged, never shown to a client.
	EINTERNAL = "internal"
)

// Error is a domain error: a code for machines, a short message safe to show a client, and the
// underlying cause for the logs.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and client-safe message, wrapping cause.
func Errorf(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err. Errors that are not an *Error get a
// generic message, so that internals never reach a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}
