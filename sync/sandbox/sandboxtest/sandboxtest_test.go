package sandboxtest_test

import (
	"net/http"
	"testing"

	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

func TestNewServesAndClosesWithTheTest(t *testing.T) {
	var url string
	t.Run("inner", func(t *testing.T) {
		srv := sandboxtest.New(t, sandbox.Options{})
		url = srv.URL
		req, _ := http.NewRequest("GET", srv.URL+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer "+srv.Key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || srv.Key != sandboxtest.Key {
			t.Fatalf("status %d key %q", res.StatusCode, srv.Key)
		}
		srv.AdvanceClock(t, 0)
		srv.InjectFaults(t, sandbox.FaultConfig{})
	})
	// Closed by the inner test's cleanup.
	if res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(url + "/v1/customers"); err == nil {
		res.Body.Close()
		t.Fatalf("sandbox still serving after its test ended: %d", res.StatusCode)
	}
}
