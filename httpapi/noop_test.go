package httpapi

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

const (
	frontTestKey   = "sk_test_0123456789ABCDEFGHIJabcdefghij0123456789"
	frontTestPayer = "acct_payer0000000000000000"
	frontTestTo    = "acct_supplier00000000000000"
)

// startFront serves a ChargeFront replying "{}" with one route of its
// maker's, /v1/test, which refuses with routeErr.
func startFront(t *testing.T, routeErr error) (*ChargeFront, *testServer) {
	t.Helper()
	front, err := NewChargeFront(ChargeFrontConfig{
		Charge:      func(buf []byte, payer string) []byte { return append(buf, `{"payer":"`+payer+`"}`...) },
		ChargeBatch: func(buf []byte, _ string, n int) []byte { return append(buf, `{"n":`+uitoa(n)+`}`...) },
		Routes: []FrontRoute{{Method: "POST", Path: "/v1/test", Handle: func(*fasthttp.RequestCtx) error {
			return routeErr
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- front.Serve(ln) }()
	t.Cleanup(func() {
		if err := front.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return front, &testServer{t: t, url: "http://" + ln.Addr().String(), notTheAPI: true}
}

// TestChargeFrontAddsKeysAllOrNone checks that AddKeys adds nothing when
// one key is malformed, counts only new keys, and that an added key pays
// from its account through Server's decoding.
func TestChargeFrontAddsKeysAllOrNone(t *testing.T) {
	front, ts := startFront(t, nil)
	good := FrontKey{Key: frontTestKey, Account: frontTestPayer}
	if added, err := front.AddKeys([]FrontKey{good, {Key: "pk_x", Account: frontTestPayer}}); added != 0 || err == nil {
		t.Fatalf("AddKeys(good, malformed) = %d, %v; want 0 and an error", added, err)
	}
	charge := map[string]string{"to": frontTestTo, "amount": "1"}
	expect(t, ts.do("POST", "/v1/charges", frontTestKey, charge), 401, "authentication_error", "invalid_credentials")
	if added, err := front.AddKeys([]FrontKey{good}); added != 1 || err != nil {
		t.Fatalf("AddKeys(good) = %d, %v; want 1, nil", added, err)
	}
	if added, err := front.AddKeys([]FrontKey{good}); added != 0 || err != nil {
		t.Fatalf("AddKeys(good) again = %d, %v; want 0, nil", added, err)
	}
	if r := ts.do("POST", "/v1/charges", frontTestKey, charge); r.status != 201 || string(r.body) != `{"payer":"`+frontTestPayer+`"}` {
		t.Fatalf("charge = %d %s, want 201 and the maker's reply", r.status, r.body)
	}
	batch := map[string]any{"charges": []any{charge, charge, charge}}
	if r := ts.do("POST", "/v1/charges/batch", frontTestKey, batch); r.status != 200 || string(r.body) != `{"n":3}` {
		t.Fatalf("batch = %d %s, want 200 and the maker's reply", r.status, r.body)
	}
	expect(t, ts.do("POST", "/v1/charges", frontTestKey, map[string]string{"to": frontTestPayer, "amount": "1"}),
		400, "invalid_request_error", "validation_failed")
}

// TestChargeFrontRouteErrorsInTheErrorShape checks that a maker's route
// refusing answers 400 in the error shape, with the FrontError's code.
func TestChargeFrontRouteErrorsInTheErrorShape(t *testing.T) {
	_, ts := startFront(t, &FrontError{Code: "too_many_keys", Message: "full"})
	expect(t, ts.do("POST", "/v1/test", "", "{}"), 400, "invalid_request_error", "too_many_keys")
	_, ts = startFront(t, errors.New("keys: bad"))
	expect(t, ts.do("POST", "/v1/test", "", "{}"), 400, "invalid_request_error", "validation_failed")
}

// TestServerHasNoNoopRoutes checks that the production server has no
// key registration of the no-op server.
func TestServerHasNoNoopRoutes(t *testing.T) {
	ts := startServer(t)
	body := `{"keys":[{"key":"` + frontTestKey + `","account":"` + frontTestPayer + `"}]}`
	expect(t, ts.do("POST", "/v1/noop/keys", "", body), 404, "not_found_error", "not_found")
}
