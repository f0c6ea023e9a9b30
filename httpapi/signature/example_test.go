package signature_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tollway/tollway/httpapi/signature"
)

// A webhook receiver checks the signature before it trusts the body, and
// answers 400 to anything that does not verify, so Tollway logs the
// failed delivery instead of the receiver acting on a forgery.
func Example() {
	secret := []byte("whsec_shown_once_when_the_endpoint_was_created")

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := signature.VerifyRequest(r, secret, signature.DefaultTolerance)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			fmt.Println("refused:", err)
			return
		}
		fmt.Println("event:", string(body))
		w.WriteHeader(http.StatusNoContent)
	})

	// What Tollway sends: the event as JSON, signed now.
	body := `{"id":"evt_1","type":"deposit.credited","created":1796281200,"data":{}}`
	delivery := httptest.NewRequest(http.MethodPost, "/tollway/webhook", strings.NewReader(body))
	delivery.Header.Set(signature.HeaderName, signature.Sign(secret, time.Now(), []byte(body)))
	handler.ServeHTTP(httptest.NewRecorder(), delivery)

	// The same request with its body changed on the way.
	forged := httptest.NewRequest(http.MethodPost, "/tollway/webhook", strings.NewReader(strings.Replace(body, "evt_1", "evt_2", 1)))
	forged.Header.Set(signature.HeaderName, delivery.Header.Get(signature.HeaderName))
	handler.ServeHTTP(httptest.NewRecorder(), forged)

	// Output:
	// event: {"id":"evt_1","type":"deposit.credited","created":1796281200,"data":{}}
	// refused: signature: mismatch: none of 1 v1 entries
}
