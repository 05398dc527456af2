package app

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// Where the payment API's secret key is kept, as Config.API.KeyStore says.
const (
	// KeyInKeyring: the OS keyring (Windows Credential Manager, the macOS
	// Keychain, the Secret Service on Linux desktops).
	KeyInKeyring = "keyring"
	// KeyInFile: a file in the per-user config directory that only the
	// user can read, where no keyring answers (a Linux box without a
	// desktop session, say).
	KeyInFile = "file"
)

// keyringService names Till's entries in the OS keyring.
const keyringService = "com.tillpos.till"

// ErrNoKey: no API key is saved where the config says it is.
var ErrNoKey = errors.New("no payment API key is saved")

// ErrKeyring: the OS keyring did not answer.
var ErrKeyring = errors.New("the OS keyring is not available")

// KeyStore keeps the payment API's secret key outside the config file and
// the database. Its errors never contain the key.
type KeyStore interface {
	// Get returns the saved key; an error wrapping ErrNoKey when there
	// is none.
	Get() (Secret, error)
	// Set saves the key, replacing any.
	Set(Secret) error
	// Delete removes the key; no error when there was none.
	Delete() error
	// Kind is KeyInKeyring or KeyInFile.
	Kind() string
	// Where says where the key is, for the About box and diagnostics.
	Where() string
}

// keyring is the OS keyring as Till uses it: zalando/go-keyring's package
// functions, or a test's stand-in.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (osKeyring) Set(s, u, v string) error        { return keyring.Set(s, u, v) }
func (osKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// keyAccount names one till's key in the keyring: one per config file, so
// a lane renamed in the settings keeps its key, and two configs of one
// user never share one.
func keyAccount(configFile string) string { return "api-key:" + configFile }

// keyringProbeTimeout bounds the probe of a keyring that may hang (a
// Secret Service waiting on a locked collection's prompt).
const keyringProbeTimeout = 5 * time.Second

// chooseKeyStore picks where a new key goes: the keyring when it answers,
// else the user-only file.
func chooseKeyStore(kr keyringAPI, p Paths) KeyStore {
	ks := &keyringStore{kr: kr, account: keyAccount(p.ConfigFile)}
	probe := make(chan error, 1)
	go func() {
		_, err := kr.Get(keyringService, ks.account)
		probe <- err
	}()
	select {
	case err := <-probe:
		if err == nil || errors.Is(err, keyring.ErrNotFound) {
			return ks
		}
	case <-time.After(keyringProbeTimeout):
	}
	return &fileKeyStore{path: p.KeyFile}
}

// keyStoreFor opens the store a config names; an empty kind (a config
// written before keys were kept) reads the user-only file.
func keyStoreFor(kind string, kr keyringAPI, p Paths) (KeyStore, error) {
	switch kind {
	case KeyInKeyring:
		return &keyringStore{kr: kr, account: keyAccount(p.ConfigFile)}, nil
	case KeyInFile, "":
		return &fileKeyStore{path: p.KeyFile}, nil
	}
	return nil, fmt.Errorf("%w: api.key_store: %q is not %q or %q", ErrConfig, kind, KeyInKeyring, KeyInFile)
}

type keyringStore struct {
	kr      keyringAPI
	account string
}

func (k *keyringStore) Kind() string { return KeyInKeyring }

func (k *keyringStore) Where() string {
	return fmt.Sprintf("the %s (service %s, account %s)", keyringName(), keyringService, k.account)
}

func (k *keyringStore) Get() (Secret, error) {
	v, err := k.kr.Get(keyringService, k.account)
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return "", fmt.Errorf("read the API key from the %s: %w", keyringName(), ErrNoKey)
	case err != nil:
		return "", fmt.Errorf("read the API key from the %s: %w: %v", keyringName(), ErrKeyring, scrubKeyringErr(err))
	}
	return Secret(v), nil
}

func (k *keyringStore) Set(s Secret) error {
	if err := k.kr.Set(keyringService, k.account, s.Reveal()); err != nil {
		return fmt.Errorf("save the API key in the %s: %w: %v", keyringName(), ErrKeyring, scrubKeyringErr(err))
	}
	return nil
}

func (k *keyringStore) Delete() error {
	err := k.kr.Delete(keyringService, k.account)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("delete the API key from the %s: %w: %v", keyringName(), ErrKeyring, scrubKeyringErr(err))
	}
	return nil
}

// scrubKeyringErr keeps a keyring's error message and drops its wrapped
// chain, which for some back ends carries the command line it ran.
func scrubKeyringErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func keyringName() string {
	switch runtime.GOOS {
	case "windows":
		return "Windows Credential Manager"
	case "darwin":
		return "macOS Keychain"
	}
	return "desktop keyring (Secret Service)"
}

// fileKeyStore keeps the key in a file only the user can read (mode 0600;
// on Windows the per-user profile's own ACL).
type fileKeyStore struct{ path string }

func (f *fileKeyStore) Kind() string  { return KeyInFile }
func (f *fileKeyStore) Where() string { return f.path + " (readable by this user only)" }

func (f *fileKeyStore) Get() (Secret, error) {
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read the API key from %s: %w", f.path, ErrNoKey)
	case err != nil:
		return "", fmt.Errorf("read the API key from %s: %w", f.path, err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(f.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			// Someone loosened it: tighten it back before using the key.
			if err := os.Chmod(f.path, 0o600); err != nil {
				return "", fmt.Errorf("read the API key from %s: it is readable by other users and cannot be made private: %w", f.path, err)
			}
		}
	}
	k := string(bytes.TrimSpace(b))
	if k == "" {
		return "", fmt.Errorf("read the API key from %s: the file is empty: %w", f.path, ErrNoKey)
	}
	return Secret(k), nil
}

func (f *fileKeyStore) Set(s Secret) error {
	if err := writeFileAtomic(f.path, []byte(s.Reveal()+"\n")); err != nil {
		return fmt.Errorf("save the API key: %w", err)
	}
	return nil
}

func (f *fileKeyStore) Delete() error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete the API key: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data, readable by the user only: a
// temporary file in the same directory, synced, then renamed over it.
func writeFileAtomic(path string, data []byte) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
