package apitest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tillpos/till/sync/api/apitest"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

func TestBarePosts(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	body := []byte("amount=1200&currency=eur&payment_method_types[0]=card_present&metadata[order_id]=floor")
	if _, err := apitest.BarePosts(context.Background(), srv.URL, srv.Key, "/v1/payment_intents", body, 20, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := apitest.BarePosts(context.Background(), srv.URL, "sk_test_not_the_key", "/v1/payment_intents", body, 3, 1); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("bad key: %v", err)
	}
}
