package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Who may do what: the request's key read into a counter.Auth, which the domain checks against
// the counter's or the namespace's key (docs/api.md, "Authentication"), and the operator's
// token, which opens the operator routes and every counter.

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", counter.Errorf(counter.EUNAUTHORIZED, nil, "missing Authorization header: send Bearer and the key")
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", counter.Errorf(counter.EUNAUTHORIZED, nil, "the Authorization header must be Bearer and the key")
	}
	return token, nil
}

// isOperator compares in constant time, through hashes so that the lengths match too.
func (d CounterDeps) isOperator(token string) bool {
	if d.OperatorToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(d.OperatorToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// keyAuth is who holds key: the operator, or the holder of some admin key, checked by the store
// against the counter's.
func (d CounterDeps) keyAuth(key string) counter.Auth {
	if d.isOperator(key) {
		return counter.Auth{Operator: true}
	}
	return counter.Auth{AdminKeyHash: counter.HashAdminKey(key)}
}

// auth says who is asking, by the request's bearer token, which it requires.
func (d CounterDeps) auth(r *http.Request) (counter.Auth, error) {
	token, err := bearer(r)
	if err != nil {
		return counter.Auth{}, err
	}
	return d.keyAuth(token), nil
}

// optionalAuth is auth for a route that anyone may call and that a token may widen: no
// Authorization header is nobody in particular; a malformed one is still refused.
func (d CounterDeps) optionalAuth(r *http.Request) (counter.Auth, error) {
	if r.Header.Get("Authorization") == "" {
		return counter.Auth{}, nil
	}
	return d.auth(r)
}

// operator lets the request through only with the operator token.
func (d CounterDeps) operator(r *http.Request) error {
	if d.OperatorToken == "" {
		return counter.Errorf(counter.EFORBIDDEN, nil, "operator routes are disabled: no operator token is configured (OPERATOR_TOKEN_FILE)")
	}
	token, err := bearer(r)
	if err != nil {
		return err
	}
	if !d.isOperator(token) {
		return counter.Errorf(counter.EFORBIDDEN, nil, "the token given is not the operator token")
	}
	return nil
}
