package counter

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeAndMessage(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:6379: connection refused")
	tests := []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{"nil", nil, "", ""},
		{"domain error", Errorf(EUNAVAILABLE, cause, "storage unavailable"), EUNAVAILABLE, "storage unavailable"},
		{"wrapped domain error", fmt.Errorf("visit: %w", Errorf(EUNAVAILABLE, cause, "storage unavailable")), EUNAVAILABLE, "storage unavailable"},
		{"foreign error hides its text", cause, EINTERNAL, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode() = %q, want %q", got, tt.wantCode)
			}
			if got := ErrorMessage(tt.err); got != tt.wantMessage {
				t.Errorf("ErrorMessage() = %q, want %q", got, tt.wantMessage)
			}
		})
	}
}

func TestErrorUnwrapsToCause(t *testing.T) {
	cause := errors.New("boom")
	err := Errorf(EINTERNAL, cause, "failed")
	if !errors.Is(err, cause) {
		t.Fatalf("errors.Is(%v, cause) = false, want true", err)
	}
}
