package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tollway/tollway/engine"
)

// TestAnAccountLimitIsAConflictWithItsOwnCode checks the one table: the
// engine's ErrLimitExceeded, wrapped as the ledger returns it, is a 409
// limit_exceeded, a code the OpenAPI document lists.
func TestAnAccountLimitIsAConflictWithItsOwnCode(t *testing.T) {
	err := fmt.Errorf("%w: an account may have at most %d open holds", engine.ErrLimitExceeded, engine.HoldsPerAccountMax)
	got := errorOf(err, "hold")
	if got.status != http.StatusConflict || got.kind != typeConflict || got.code != "limit_exceeded" {
		t.Fatalf("errorOf(%v) = %d %s %s, want 409 %s limit_exceeded", err, got.status, got.kind, got.code, typeConflict)
	}
	document, readErr := os.ReadFile("openapi.json")
	if readErr != nil {
		t.Fatal(readErr)
	}
	if !strings.Contains(string(document), `"limit_exceeded"`) {
		t.Fatal("openapi.json does not list the error code limit_exceeded")
	}
}
