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
	// EINVALID: the request itself is wrong (a bad counter name, a value that is not a number).
	EINVALID = "invalid"
	// ENOTFOUND: the counter does not exist.
	ENOTFOUND = "not_found"
	// ECONFLICT: the counter already exists.
	ECONFLICT = "conflict"
	// EUNAUTHORIZED: the call needs a key and none was given.
	EUNAUTHORIZED = "unauthorized"
	// EFORBIDDEN: the key given does not open this counter (or the counter has none).
	EFORBIDDEN = "forbidden"
	// EFULL: the counter limit is reached; no counter is evicted to make room.
	EFULL = "full"
	// ERATELIMITED: the client used up its allowance for this window.
	ERATELIMITED = "rate_limited"
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
