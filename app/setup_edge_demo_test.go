package app

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tillpos/till/reader"
)

// TestDemoKeepsApartFromDBFlag: -db names the shop's database. "Try the
// demo" from the wizard keeps its sales in the demo's own database, so
// they never mix with the shop's (only `-demo -db X` puts the demo in X).
func TestDemoKeepsApartFromDBFlag(t *testing.T) {
	dir := t.TempDir()
	shopDB := filepath.Join(dir, "shop", "till.db")
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	r := &runner{log: slog.New(slog.DiscardHandler), getenv: func(string) string { return "" },
		now: func() time.Time { return now }, paths: testPaths(dir), kr: &stubKeyring{}, scrub: &scrubber{},
		flags:   flags{db: shopDB},
		findUSB: func([]reader.USBID) ([]reader.FoundUSB, error) { return nil, nil }}
	op, err := r.openDemo() // the wizard's "Try the demo"
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	demoDB := r.cfg.Database
	r.mu.Unlock()
	if err := op.close(); err != nil {
		t.Fatal(err)
	}
	f := goodForm()
	f.UseSandbox, f.APIBaseURL, f.APIKey = true, "", ""
	if err := r.newSetup(nil).Save(f); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := r.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Clean(cfg.Database) == filepath.Clean(demoDB) {
		t.Errorf("the demo (not started with -demo) and the shop's till share the database %s", demoDB)
	}
}
