package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// A database that holds card payments taken offline and not yet
// forwarded is worthless without the install key that sealed them (a
// database restored or moved without install.key beside it). Opening it
// must say so (ErrSealKey), as openSealer's comment promises, rather than
// make a fresh key: with a fresh key the till starts, the forwarding can
// never open the payloads, and the sales the customers left with are
// never paid.
func TestLostInstallKeyIsReportedNotReplaced(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	down := new(atomic.Bool)
	fs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			panic(http.ErrAbortHandler)
		}
		srv.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.Close)
	dir := t.TempDir()
	p := Params{Config: DefaultConfig()}
	p.Config.Database = filepath.Join(dir, "till.db")
	p.Config.API = APIConfig{BaseURL: fs.URL, Key: Secret(srv.Key)}

	till, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	till.Start()
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = till.Close()
		}
	})
	c, err := api.New(api.Config{BaseURL: srv.URL, Key: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	ot := &offlineTill{liveTill: &liveTill{Till: till, srv: srv, api: c}, down: down}
	ctx := testCtx(t)
	r, err := till.NewRegister()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !closed {
			r.Close()
		}
	})
	o := sellOffline(t, ctx, ot, r, "visa")
	r.Close()
	closed = true
	if err := till.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, sealKeyFile)); err != nil {
		t.Fatal(err)
	}
	again, err := Open(p)
	if err == nil {
		again.Close()
		t.Fatalf("the database holds an offline payment of order %s sealed with a key that is gone, and the till opened with a new key", o.ID())
	}
	if !errors.Is(err, ErrSealKey) {
		t.Fatalf("open without the install key: %v, want ErrSealKey", err)
	}
}
