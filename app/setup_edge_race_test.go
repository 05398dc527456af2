package app

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/ui"
)

// TestSaveFreezesTheOpenTill: once Save has moved the till to another
// payment service, the open till (the settings window is not modal, and the
// cashier may still be selling until it is reopened) queues nothing more
// for the old one.
func TestSaveFreezesTheOpenTill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		till, s, f := openSettings(t)
		cfg := till.cfg
		f.APIBaseURL = "https://api.example.com"
		f.APIKey = "sk_test_moved_0123456789"

		if err := s.Save(f); err != nil {
			t.Fatalf("Save with nothing unsent: %v", err)
		}
		saved, err := ReadConfig(s.paths.ConfigFile)
		if err != nil || saved.API.BaseURL != f.APIBaseURL {
			t.Fatalf("saved API %q (%v), want %q", saved.API.BaseURL, err, f.APIBaseURL)
		}
		// The cashier's next sale, before the settings reopen the till.
		if _, err := till.DemoCardSale(30 * time.Second); !errors.Is(err, queue.ErrFrozen) {
			t.Errorf("a card sale after the move was saved = %v, want it refused with ErrFrozen", err)
		}
		st, err := till.StoreState()
		if err != nil {
			t.Fatal(err)
		}
		if n := st.Pending + st.InFlight; n > 0 {
			t.Errorf("after Save moved the API to %s the old till still queued %d message(s) for %s",
				saved.API.BaseURL, n, cfg.API.BaseURL)
		}
	})
}

// TestFailedSaveThawsTheTill: a move whose config cannot be written leaves
// the open till selling as before.
func TestFailedSaveThawsTheTill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		till, s, f := openSettings(t)
		f.APIBaseURL = "https://api.example.com"
		cfgDir := filepath.Dir(s.paths.ConfigFile)
		if err := os.RemoveAll(cfgDir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfgDir, nil, 0o600); err != nil { // the folder is now a file
			t.Fatal(err)
		}
		var fe *ui.FormError
		if err := s.Save(f); err == nil || errors.As(err, &fe) {
			t.Fatalf("Save into a config folder that is a file = %v, want the write to fail", err)
		}
		// This till's API does not answer: the sale is kept and queued.
		if _, err := till.DemoCardSale(30 * time.Second); errors.Is(err, queue.ErrFrozen) {
			t.Fatalf("after a failed Save, a card sale = %v, want it taken", err)
		}
		if st, err := till.StoreState(); err != nil || st.Pending == 0 {
			t.Errorf("after a failed Save the card sale queued nothing: %+v %v", st, err)
		}
	})
}
