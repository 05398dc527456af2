package app

// The manager PIN and the unsent-payments guard when the settings are
// opened with no till running (the problem screen's "Open the settings",
// or "Settings…" in the demo once a shop config exists).

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/ui"
)

// savedShopSetup saves a real shop's settings (PIN 2468) and returns the
// set-up service as the settings see it when the till could not start.
func savedShopSetup(t *testing.T) *setup {
	t.Helper()
	s := newTestSetup(t, &stubKeyring{})
	if err := s.Save(goodForm()); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return s
}

// TestCheckPINWithoutTillLocksOut: the settings opened with no till running
// (from the problem screen, or from the demo) lock out after the allowed
// wrong PINs as the till does: even the right PIN is then refused.
func TestCheckPINWithoutTillLocksOut(t *testing.T) {
	s := savedShopSetup(t)
	for _, pin := range []string{"0000", "1111", "2222", "3333", "4444", "5555"} {
		if err := s.CheckPIN(pin); !errors.Is(err, ui.ErrWrongPIN) {
			t.Fatalf("wrong PIN %s: %v", pin, err)
		}
	}
	if err := s.CheckPIN("2468"); err == nil {
		t.Errorf("after 6 wrong PINs (the guard allows 5) in a row the right one is still accepted at once: no lockout when the till is not open")
	}
}

// TestCheckPINOnConfigThatFailsValidation: a config that keeps its PIN hash
// but no longer validates (a hand edit, a setting from a newer version)
// still asks for the PIN; it is no way round it.
func TestCheckPINOnConfigThatFailsValidation(t *testing.T) {
	s := savedShopSetup(t)
	b, err := os.ReadFile(s.paths.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["manager_pin_hash"] == nil || m["manager_pin_hash"] == "" {
		t.Fatal("saved config has no PIN hash")
	}
	m["reader"] = "nonsense-reader"
	b, _ = json.Marshal(m)
	if err := os.WriteFile(s.paths.ConfigFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(s.paths.ConfigFile); err == nil {
		t.Fatal("the edited config still validates; the test needs one that does not")
	}
	if err := s.CheckPIN("0000"); err == nil {
		t.Errorf("CheckPIN(wrong PIN) = nil on a config that keeps its PIN hash but fails validation: the settings open without the PIN")
	}
}

// TestUnsentGuardWithoutTill: with no till open, the settings count the
// unsent messages in the shop's (closed) database and refuse to move lane
// or currency while any are left.
func TestUnsentGuardWithoutTill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestSetup(t, &stubKeyring{})
		clock := &fixedClock{t: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)}
		cfg := DefaultConfig()
		cfg.Database = filepath.Join(t.TempDir(), "till.db")
		cfg.API = unusedAPI
		till, err := Open(Params{Config: cfg, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := till.DemoCardSale(30 * time.Second); err == nil {
			t.Fatal("a card sale with no API answering completed")
		}
		st, err := till.StoreState()
		if err != nil || st.Pending+st.InFlight == 0 {
			t.Fatalf("nothing unsent after the sale: %+v %v", st, err)
		}
		if err := till.Close(); err != nil {
			t.Fatal(err)
		}
		f := savedSettings(t, s, cfg)
		moved := f
		moved.Currency = "EUR"
		moved.Lane = "lane9"
		if p := s.Validate(moved); !slices.Contains(fields(p), ui.FieldLane) || !slices.Contains(fields(p), ui.FieldCurrency) {
			t.Errorf("with the till not open, moving lane and currency of a database with %d unsent messages is allowed", st.Pending+st.InFlight)
		}
	})
}
