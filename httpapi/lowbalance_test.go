package httpapi

import (
	"testing"

	"github.com/tollway/tollway/engine"
)

// TestPatchSetsTheLowBalanceThresholdAfterCheckingEveryField: PATCH
// /v1/accounts/{id} takes lowBalanceThreshold alone or with walletAddress;
// a bad value, a wallet the caller does not own or another user's account
// changes nothing; "0" turns it off; it is durable.
func TestPatchSetsTheLowBalanceThresholdAfterCheckingEveryField(t *testing.T) {
	ts := startServer(t)
	owner, address, _ := ts.siweUser()
	_, otherAddress, _ := ts.siweUser()
	stranger := ts.signup("stranger@example.com")
	id := ts.account(owner, "test")
	path := "/v1/accounts/" + id
	threshold := func(want string) {
		t.Helper()
		if got := expect(t, ts.do("GET", path, owner.access, nil), 200, "", ""); got["lowBalanceThreshold"] != want {
			t.Fatalf("lowBalanceThreshold = %v, want %q", got["lowBalanceThreshold"], want)
		}
		b, err := ts.server.engine.Balance(t.Context(), engine.AccountID(id))
		if err != nil || b.LowBalanceThreshold.String() != want {
			t.Fatalf("engine threshold = %v, %v; want %s", b.LowBalanceThreshold, err, want)
		}
	}
	threshold("0")

	set := expect(t, ts.do("PATCH", path, owner.access, map[string]any{"lowBalanceThreshold": "1500"}), 200, "", "")
	if set["lowBalanceThreshold"] != "1500" || set["walletAddress"] != nil || set["id"] != id {
		t.Fatalf("PATCH lowBalanceThreshold = %v, want the account with 1500 and no wallet", set)
	}
	threshold("1500")
	for _, body := range []any{
		map[string]any{},
		map[string]any{"lowBalanceThreshold": "-1"},
		map[string]any{"lowBalanceThreshold": "1.5"},
		map[string]any{"lowBalanceThreshold": "01"},
		map[string]any{"lowBalanceThreshold": ""},
		map[string]any{"lowBalanceThreshold": 1500},
		map[string]any{"lowBalanceThreshold": nil},
		map[string]any{"lowBalanceThreshold": "18446744073709551616"}, // 2^64: above what one operation moves
		map[string]any{"lowBalanceThreshold": "10", "walletAddress": "0x123"},
		map[string]any{"lowBalanceThreshold": "10", "color": "red"},
	} {
		expect(t, ts.do("PATCH", path, owner.access, body), 400, "invalid_request_error", "validation_failed")
	}
	expect(t, ts.do("PATCH", path, owner.access, map[string]any{"lowBalanceThreshold": "10", "walletAddress": otherAddress}), 403, "permission_error", "not_owner")
	expect(t, ts.do("PATCH", path, stranger.access, map[string]any{"lowBalanceThreshold": "10"}), 404, "not_found_error", "not_found")
	expect(t, ts.do("PATCH", "/v1/accounts/acct_nope", owner.access, map[string]any{"lowBalanceThreshold": "10"}), 404, "not_found_error", "not_found")
	threshold("1500") // none of them changed it

	both := expect(t, ts.do("PATCH", path, owner.access, map[string]any{"lowBalanceThreshold": "18446744073709551615", "walletAddress": address}), 200, "", "")
	if both["lowBalanceThreshold"] != "18446744073709551615" || both["walletAddress"] != address {
		t.Fatalf("PATCH both = %v, want the wallet bound and the threshold set", both)
	}
	ts.restart()
	threshold("18446744073709551615")
	if off := expect(t, ts.do("PATCH", path, owner.access, map[string]any{"lowBalanceThreshold": "0"}), 200, "", ""); off["lowBalanceThreshold"] != "0" {
		t.Fatalf("PATCH 0 = %v, want it off", off)
	}
	threshold("0")
	if list := expect(t, ts.do("GET", "/v1/accounts", owner.access, nil), 200, "", "")["data"].([]any); list[0].(map[string]any)["lowBalanceThreshold"] != "0" {
		t.Fatalf("GET /v1/accounts = %v, want each account with its threshold", list)
	}
}
