package app

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tillpos/till/ui"
)

// setHookKeyring is the stub keyring with a hook run after a successful Set.
type setHookKeyring struct {
	*stubKeyring
	onSet func()
}

func (k *setHookKeyring) Set(s, u, v string) error {
	if err := k.stubKeyring.Set(s, u, v); err != nil {
		return err
	}
	if k.onSet != nil {
		k.onSet()
	}
	return nil
}

// TestFailedSaveKeepsTheKeyTheConfigNames: moving the key from the user's
// file to the keyring removes the old copy only once the config naming the
// keyring is written. When that write fails, the config on disk still
// names the file and the key is still there, so the next start finds it.
func TestFailedSaveKeepsTheKeyTheConfigNames(t *testing.T) {
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, "config")
	p := Paths{ConfigFile: filepath.Join(cfgDir, "config.json"), Data: filepath.Join(dir, "data"),
		Logs: filepath.Join(dir, "logs"), KeyFile: filepath.Join(dir, "keys", "api-key")}
	// First run with no keyring: the key goes to the file.
	s := &setup{paths: p, kr: &stubKeyring{err: errors.New("no secret service")}, scrub: &scrubber{}}
	f := goodForm()
	if err := s.Save(f); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadConfig(p.ConfigFile); err != nil || c.API.KeyStore != KeyInFile {
		t.Fatalf("first save: %+v %v", c.API, err)
	}
	// Later the keyring answers; the manager enters a new key, and the
	// config write fails (here: the config folder is no longer writable,
	// simulated as root-proof by replacing the folder with a file once the
	// key is in the keyring, and keeping the old config's bytes for the check).
	old, err := os.ReadFile(p.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	kr := &setHookKeyring{stubKeyring: &stubKeyring{}}
	kr.onSet = func() {
		if err := os.RemoveAll(cfgDir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfgDir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = &setup{paths: p, kr: kr, scrub: &scrubber{}}
	g, err := s.Form()
	if err != nil {
		t.Fatal(err)
	}
	g.APIKey = "sk_live_new_key_0123456789"
	if err := s.Save(g); err == nil || errors.As(err, new(*ui.FormError)) {
		t.Fatalf("Save = %v, want the config write to fail", err)
	}
	// Put the old config back as it was on disk: Save did not change it.
	if err := os.Remove(cfgDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.ConfigFile, old, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(p.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keyStoreFor(c.API.KeyStore, kr, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get(); err != nil {
		t.Errorf("after a failed Save the config still names %q but the key there is gone: %v", c.API.KeyStore, err)
	}
}
