package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/zalando/go-keyring"
)

func TestPathsFor(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name, system, home string
		getenv             func(string) string
		want               Paths
		wantErr            string
	}{
		{
			name: "linux defaults", system: "linux", home: "/home/ana", getenv: env(),
			want: Paths{ConfigFile: "/home/ana/.config/till/config.json", Data: "/home/ana/.local/share/till",
				Logs: "/home/ana/.local/state/till/logs", KeyFile: "/home/ana/.config/till/api-key"},
		},
		{
			name: "linux XDG", system: "linux", home: "/home/ana",
			getenv: env("XDG_CONFIG_HOME", "/cfg", "XDG_DATA_HOME", "/data", "XDG_STATE_HOME", "/state"),
			want:   Paths{ConfigFile: "/cfg/till/config.json", Data: "/data/till", Logs: "/state/till/logs", KeyFile: "/cfg/till/api-key"},
		},
		{
			name: "linux relative XDG ignored", system: "linux", home: "/home/ana", getenv: env("XDG_DATA_HOME", "rel"),
			want: Paths{ConfigFile: "/home/ana/.config/till/config.json", Data: "/home/ana/.local/share/till",
				Logs: "/home/ana/.local/state/till/logs", KeyFile: "/home/ana/.config/till/api-key"},
		},
		{name: "linux no home", system: "linux", getenv: env(), wantErr: "home directory"},
		{
			name: "windows", system: "windows",
			getenv: env("APPDATA", "/Users/ana/AppData/Roaming", "LOCALAPPDATA", "/Users/ana/AppData/Local"),
			want: Paths{ConfigFile: "/Users/ana/AppData/Roaming/Till/config.json", Data: "/Users/ana/AppData/Local/Till",
				Logs: "/Users/ana/AppData/Local/Till/logs", KeyFile: "/Users/ana/AppData/Roaming/Till/api-key"},
		},
		{name: "windows no LocalAppData", system: "windows", getenv: env("APPDATA", "/r"), wantErr: "%LocalAppData%"},
		{
			name: "macOS", system: "darwin", home: "/Users/ana", getenv: env(),
			want: Paths{ConfigFile: "/Users/ana/Library/Application Support/Till/config.json",
				Data: "/Users/ana/Library/Application Support/Till", Logs: "/Users/ana/Library/Logs/Till",
				KeyFile: "/Users/ana/Library/Application Support/Till/api-key"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS == "windows" {
				t.Skip("the table uses slash paths")
			}
			got, err := pathsFor(tc.system, tc.getenv, tc.home)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("pathsFor = %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestPathsDatabase(t *testing.T) {
	dir := t.TempDir()
	p := Paths{ConfigFile: filepath.Join(dir, "cfg", "config.json"), Data: filepath.Join(dir, "data")}
	if got := p.Database(Config{Database: "/elsewhere/x.db"}); got != "/elsewhere/x.db" {
		t.Errorf("configured database: %s", got)
	}
	if got, want := p.Database(Config{}), filepath.Join(dir, "data", "till.db"); got != want {
		t.Errorf("new install: %s, want %s", got, want)
	}
	legacy := filepath.Join(dir, "cfg", "till.db")
	if err := os.MkdirAll(filepath.Dir(legacy), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(legacy, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := p.Database(Config{}); got != legacy {
		t.Errorf("a database from before the data directory: %s, want it kept at %s", got, legacy)
	}
}

func TestFileKeyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "api-key")
	ks := &fileKeyStore{path: path}
	if _, err := ks.Get(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Get before Set: %v, want ErrNoKey", err)
	}
	const key = "sk_test_filestore_123456"
	if err := ks.Set(key); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %v (%v), want 0600", fi.Mode(), err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ks.Get()
	if err != nil || got.Reveal() != key {
		t.Fatalf("Get = %q, %v", got.Reveal(), err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("a loosened key file stays %v after reading, want 0600", fi.Mode())
	}
	if err := ks.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := ks.Get(); !errors.Is(err, ErrNoKey) {
		t.Errorf("Get after Delete: %v, want ErrNoKey", err)
	}
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get(); !errors.Is(err, ErrNoKey) {
		t.Errorf("empty file: %v, want ErrNoKey", err)
	}
}

// stubKeyring stands in for the OS's keyring service, which this machine
// does not run: a map, or an error for every call, or a call that hangs.
type stubKeyring struct {
	mu   sync.Mutex
	m    map[string]string
	err  error         // every call fails with it
	hang chan struct{} // every call waits for it to close
}

func (k *stubKeyring) wait() error {
	if k.hang != nil {
		<-k.hang
	}
	return k.err
}

func (k *stubKeyring) Get(s, u string) (string, error) {
	if err := k.wait(); err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *stubKeyring) Set(s, u, v string) error {
	if err := k.wait(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[s+"/"+u] = v
	return nil
}

func (k *stubKeyring) Delete(s, u string) error {
	if err := k.wait(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[s+"/"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.m, s+"/"+u)
	return nil
}

func TestChooseKeyStore(t *testing.T) {
	p := Paths{ConfigFile: "/x/config.json", KeyFile: filepath.Join(t.TempDir(), "api-key")}
	if ks := chooseKeyStore(&stubKeyring{}, p); ks.Kind() != KeyInKeyring {
		t.Errorf("a keyring that answers: %s, want the keyring", ks.Kind())
	}
	if ks := chooseKeyStore(&stubKeyring{err: errors.New("dbus: no session bus")}, p); ks.Kind() != KeyInFile {
		t.Errorf("no keyring service: %s, want the file", ks.Kind())
	}
	synctest.Test(t, func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang)
		if ks := chooseKeyStore(&stubKeyring{hang: hang}, p); ks.Kind() != KeyInFile {
			t.Errorf("a keyring that never answers: %s, want the file after %v", ks.Kind(), keyringProbeTimeout)
		}
	})
}

func TestKeyringStore(t *testing.T) {
	kr := &stubKeyring{}
	p := Paths{ConfigFile: "/shop/config.json"}
	ks, err := keyStoreFor(KeyInKeyring, kr, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Get before Set: %v", err)
	}
	if err := ks.Set("sk_live_keyring_abcdef"); err != nil {
		t.Fatal(err)
	}
	if got := kr.m[keyringService+"/api-key:/shop/config.json"]; got != "sk_live_keyring_abcdef" {
		t.Errorf("keyring holds %q under Till's service and this config's account", got)
	}
	if strings.Contains(ks.Where(), "sk_live") {
		t.Errorf("Where shows the key: %s", ks.Where())
	}
	broken := &keyringStore{kr: &stubKeyring{err: errors.New("locked collection")}, account: "a"}
	if _, err := broken.Get(); !errors.Is(err, ErrKeyring) {
		t.Errorf("a failing keyring: %v, want ErrKeyring", err)
	}
	if _, err := keyStoreFor("vault", kr, p); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown key_store: %v, want ErrConfig", err)
	}
}

func TestLogScrubsKeys(t *testing.T) {
	dir := t.TempDir()
	s := &scrubber{}
	const configured = "whsk_custom_key_0123456789"
	s.Add(configured)
	s.Add("short") // too short to scrub: would blank ordinary words
	var stderr bytes.Buffer
	log, closer, err := openLog(dir, &stderr, s)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("call", "url", "https://x/?key="+configured, "err", errors.New("bad key sk_live_51Habcdefghijklmnop"), "word", "short")
	log.Info("typed", "secret", Secret("sk_test_typed_123456"))
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, logFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"log file": file, "stderr": stderr.Bytes()} {
		for _, secret := range []string{configured, "sk_live_51Habcdefghijklmnop", "sk_test_typed_123456"} {
			if bytes.Contains(out, []byte(secret)) {
				t.Errorf("%s holds %q:\n%s", name, secret, out)
			}
		}
		if !bytes.Contains(out, []byte("word=short")) || !bytes.Contains(out, []byte(redacted)) {
			t.Errorf("%s lost ordinary text or shows no redaction:\n%s", name, out)
		}
	}
}

func TestLogRotates(t *testing.T) {
	dir := t.TempDir()
	rot := logRotator(dir)
	if !rot.Compress || rot.MaxBackups != logBackups || rot.MaxAge != logMaxDays {
		t.Errorf("the till's log rotation: %+v", rot)
	}
	// Rotation without compression: lumberjack compresses on a goroutine
	// that outlives Close, and could still be writing the .gz when the
	// temporary directory is removed.
	rot.Compress = false
	log, closer, err := startLog(rot, discard{}, &scrubber{})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1000)
	for range logMaxMB*1024 + 100 { // a little more than one file's worth
		log.Info(line)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "till-*.log*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no rotated log beside till.log after %d MB (%v)", logMaxMB, err)
	}
	fi, err := os.Stat(filepath.Join(dir, logFile))
	if err != nil || fi.Size() > logMaxMB<<20 {
		t.Errorf("till.log is %d bytes (%v), want under %d MB", fi.Size(), err, logMaxMB)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
