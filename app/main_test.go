package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/tillpos/till/app/manager"

	"github.com/tillpos/till/ui/uitest"
)

func TestVersionFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"-version"}, os.Getenv, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := out.String(); got != "till "+Version+"\n" {
		t.Errorf("-version printed %q", got)
	}
	if code := Main([]string{"-nonsense"}, os.Getenv, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := Main([]string{"stray"}, os.Getenv, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
}

// TestCorruptDatabaseRecovery walks the start-up path a shop owner meets
// after disk damage: Till shows the problem instead of starting, and the
// "move aside" button keeps the damaged file and opens a fresh till.
func TestCorruptDatabaseRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := test.NewTempApp(t)
		dir := t.TempDir()
		db := filepath.Join(dir, "till.db")
		garbage := bytes.Repeat([]byte("damaged sector "), 4096)
		if err := os.WriteFile(db, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "config.json")
		js, _ := json.Marshal(map[string]any{"database": db, "api": map[string]string{"base_url": unusedAPI.BaseURL}})
		if err := os.WriteFile(cfg, js, 0o600); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
		w := a.NewWindow("Till")
		r := &runner{app: a, win: w, log: slog.New(slog.DiscardHandler), flags: flags{config: cfg},
			paths: testPaths(dir), kr: &stubKeyring{}, scrub: &scrubber{},
			getenv: func(k string) string {
				if k == "TILL_API_KEY" {
					return unusedAPI.Key.Reveal()
				}
				return ""
			}, now: func() time.Time { return now }}
		defer r.stop()

		w.Resize(fyne.NewSize(1600, 900))
		r.show(r.openTill())
		shown := uitest.ShownTexts(w.Content())
		if !slices.Contains(shown, "The database is damaged") {
			t.Fatalf("no damage screen; shows %q", shown)
		}
		test.Tap(button(t, w.Content(), "Move the damaged file aside and start afresh"))
		synctest.Wait()

		shown = uitest.ShownTexts(w.Content())
		if !slices.Contains(shown, "Card (F5)") || !slices.Contains(shown, "Scan or tap a product to start a sale.") {
			t.Errorf("after moving aside the till does not show an empty cashier screen: %q", shown)
		}
		if n, err := r.till.orderCount(); err != nil || n != 0 || r.till.store.Path() != db {
			t.Errorf("after moving aside: %d orders in %s (%v), want a fresh %s", n, r.till.store.Path(), err, db)
		}
		moved, _ := filepath.Glob(db + ".corrupt-*")
		if len(moved) != 1 {
			t.Fatalf("moved files: %v", moved)
		}
		if b, _ := os.ReadFile(moved[0]); !bytes.Equal(b, garbage) {
			t.Error("the damaged file was not kept intact")
		}
		if !strings.HasPrefix(filepath.Base(moved[0]), "till.db.corrupt-20261123T080000") {
			t.Errorf("moved to %s, want a name stamped with the clock", moved[0])
		}
	})
}

func TestSetManagerPIN(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	for _, tc := range []struct {
		name, input, wantErr string
	}{
		{name: "differ", input: "1357\n1358\n", wantErr: "differ"},
		{name: "too short", input: "12\n12\n", wantErr: "4 to 8"},
		{name: "no input", input: "", wantErr: "no PIN"},
		{name: "ok", input: "1357\n1357\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main([]string{"-set-manager-pin", "-config", cfgPath}, os.Getenv, strings.NewReader(tc.input), &out, &errOut)
			if tc.wantErr != "" {
				if code == 0 || !strings.Contains(errOut.String(), tc.wantErr) {
					t.Fatalf("exit %d, stderr %q; want an error with %q", code, errOut.String(), tc.wantErr)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
		})
	}
	cfg, err := LoadConfig(cfgPath, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(cfgPath)
	if ok, err := manager.Verify(cfg.ManagerPINHash, "1357"); !ok || err != nil || bytes.Contains(raw, []byte("1357")) {
		t.Fatalf("saved hash verifies: %v, %v; file holds the PIN in clear: %v", ok, err, bytes.Contains(raw, []byte("1357")))
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode: %v, %v", fi.Mode(), err)
	}
}

// testPaths puts every per-user path of a test's Till under dir.
func testPaths(dir string) Paths {
	return Paths{ConfigFile: filepath.Join(dir, "config.json"), Data: filepath.Join(dir, "data"),
		Logs: filepath.Join(dir, "logs"), KeyFile: filepath.Join(dir, "api-key")}
}
