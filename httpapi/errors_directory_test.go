package httpapi

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/directory"
)

// TestDirectoryErrorsMapInTheOneTable: every domain error of the directory,
// wrapped as callers may wrap it, is the response the handlers gave before
// the directory left httpapi.
func TestDirectoryErrorsMapInTheOneTable(t *testing.T) {
	tests := []struct {
		err                 error
		what                string
		status              int
		kind, code, message string
	}{
		{directory.ErrNotFound, "key", http.StatusNotFound, typeNotFound, "not_found", "key not found"},
		{directory.ErrNotFound, "account", http.StatusNotFound, typeNotFound, "not_found", "account not found"},
		{directory.ErrAlreadyExists, "a user with this email", http.StatusConflict, typeConflict, "already_exists",
			"a user with this email already exists"},
		{&directory.LimitError{Cap: directory.CapAccountsPerUser, Max: 3}, "account", http.StatusConflict, typeConflict,
			"limit_exceeded", "a user may own at most 3 accounts"},
		{&directory.LimitError{Cap: directory.CapKeysPerAccount, Max: 1000}, "key", http.StatusConflict, typeConflict,
			"limit_exceeded", "an account may have at most 1000 keys, revoked ones included"},
		{directory.ErrKeyRevoked, "key", http.StatusConflict, typeConflict, "invalid_state",
			"the object is not in a state that allows this"},
		{directory.ErrInvalidToken, "session", http.StatusUnauthorized, typeAuthentication, "invalid_credentials",
			"the credentials are not valid"},
		{directory.ErrTokenReused, "session", http.StatusUnauthorized, typeAuthentication, "invalid_credentials",
			"the credentials are not valid"},
		// A write the engine could not make durable, as the directory
		// wraps it.
		{fmt.Errorf("directory: write key: %w", engine.ErrUnavailable), "key", http.StatusServiceUnavailable, typeAPI,
			"unavailable", errUnavailable.message},
	}
	for _, tt := range tests {
		for _, err := range []error{tt.err, fmt.Errorf("context: %w", tt.err)} {
			got := errorOf(err, tt.what)
			if got.status != tt.status || got.kind != tt.kind || got.code != tt.code || got.message != tt.message {
				t.Errorf("errorOf(%v, %q) = %d %s %s %q, want %d %s %s %q", err, tt.what,
					got.status, got.kind, got.code, got.message, tt.status, tt.kind, tt.code, tt.message)
			}
		}
	}
}
