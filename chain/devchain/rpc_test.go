package devchain

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
)

// An answer computed on a head that is not yet synced is held until it is;
// one whose head never gets synced (the chain stopped) is a 503, never the
// answer.
func TestAnswersWaitUntilTheirHeadIsSynced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		synced := make(chan error)
		answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"result":"0x1"}`))
		})
		handler := durableResponses(answer, func(ctx context.Context) error { return <-synced })
		serve := func() *httptest.ResponseRecorder {
			recorder := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				handler.ServeHTTP(recorder, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
				close(done)
			}()
			synctest.Wait()
			if recorder.Body.Len() != 0 || recorder.Flushed {
				t.Fatalf("answered %q before the head was synced", recorder.Body)
			}
			synced <- nil
			<-done
			return recorder
		}
		if recorder := serve(); recorder.Code != http.StatusOK || recorder.Body.String() != `{"result":"0x1"}` {
			t.Fatalf("after the sync: %d %q, want 200 and the answer", recorder.Code, recorder.Body)
		}

		recorder := httptest.NewRecorder()
		go func() { synced <- ErrClosed }()
		handler.ServeHTTP(recorder, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
		if recorder.Code != http.StatusServiceUnavailable || strings.Contains(recorder.Body.String(), "0x1") {
			t.Fatalf("with the chain stopped: %d %q, want 503 without the answer", recorder.Code, recorder.Body)
		}
	})
}
