package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Every domain code has its status, and anything else is a 500.
func TestStatusFor(t *testing.T) {
	for _, tc := range []struct {
		code string
		want int
	}{
		{counter.EUNAVAILABLE, http.StatusServiceUnavailable},
		{counter.ECANCELED, StatusClientClosedRequest},
		{counter.EINTERNAL, http.StatusInternalServerError},
		{counter.EINVALID, http.StatusBadRequest},
		{counter.ENOTFOUND, http.StatusNotFound},
		{counter.ECONFLICT, http.StatusConflict},
		{counter.EUNAUTHORIZED, http.StatusUnauthorized},
		{counter.EFORBIDDEN, http.StatusForbidden},
		{counter.EFULL, http.StatusInsufficientStorage},
		{counter.ERATELIMITED, http.StatusTooManyRequests},
		{"", http.StatusInternalServerError},
		{"no_such_code", http.StatusInternalServerError},
	} {
		if got := statusFor(tc.code); got != tc.want {
			t.Errorf("statusFor(%q) = %d, want %d", tc.code, got, tc.want)
		}
	}
}

// Each renderer answers the same error with the same status in its own format; the error a
// handler marks inPage is a page whatever the route's format.
func TestErrorRenderers(t *testing.T) {
	notFound := counter.Errorf(counter.ENOTFOUND, errors.New("the cause, for the log only"), "counter a/b not found")
	for _, tc := range []struct {
		name            string
		handler         http.Handler
		accept          string
		wantStatus      int
		wantType        string
		wantBody        string
		wantNotInAnswer string
	}{
		{"json", asJSON(fails(notFound)), "", 404, "application/json", `{"error":"counter a/b not found","code":"not_found"}` + "\n", "cause"},
		{"badge", asBadge(fails(notFound)), "", 404, "image/svg+xml", "no such counter", "cause"},
		{"page", asPage(fails(notFound)), "", 404, "text/html; charset=utf-8", "<title>404</title><p>counter a/b not found</p>", "cause"},
		{"json route, page error", asJSON(fails(inPage(notFound))), "", 404, "text/html; charset=utf-8", "<p>counter a/b not found</p>", "cause"},
		{"visit as text", serve(renderVisitError, fails(notFound)), "text/html", 404, "text/plain; charset=utf-8", "counter a/b not found\n", "cause"},
		{"visit as json", serve(renderVisitError, fails(notFound)), "application/json", 404, "application/json", `"code":"not_found"`, "cause"},
		{"protocol", serve(renderVisitError, fails(&protocolError{http.StatusNotAcceptable, "not acceptable"})), "image/png",
			406, "text/plain; charset=utf-8", "not acceptable\n", "code"},
		{"not a domain error", asJSON(fails(errors.New("secret detail"))), "",
			500, "application/json", `{"error":"internal error","code":"internal"}`, "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x", nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.wantStatus || rec.Header().Get("Content-Type") != tc.wantType || !strings.Contains(body, tc.wantBody) {
				t.Errorf("got %d %q %q, want %d %q containing %q", rec.Code, rec.Header().Get("Content-Type"), body, tc.wantStatus, tc.wantType, tc.wantBody)
			}
			if strings.Contains(body, tc.wantNotInAnswer) {
				t.Errorf("the answer %q shows %q", body, tc.wantNotInAnswer)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

// fails is a handler that fails with err before writing anything.
func fails(err error) handlerFunc {
	return func(http.ResponseWriter, *http.Request) error { return err }
}
