package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A card payment taken offline keeps the reader's payment payload until it
// is forwarded. The payload is the reader's own encryption of the card,
// but a copy of the database must still not be enough to replay it: it is
// sealed (AES-256-GCM) with a key made for this installation and kept in
// its own file beside the database, readable by the user only. The sealed
// bytes are bound to the order and the payment they belong to.

// ErrSealKey: the install key is missing or unreadable, so payments
// stored offline cannot be opened (a database moved without its key file).
var ErrSealKey = errors.New("the till's install key for offline payments is missing or damaged")

const (
	sealKeyFile = "install.key"
	sealVersion = 1
	sealKeyLen  = 32
)

// sealer seals and opens stored payment payloads with the install key.
type sealer struct {
	aead cipher.AEAD
}

// openSealer loads the install key from dir, creating it on first use.
// mayCreate is false when the database already holds sealed payloads, so
// that a lost key is reported instead of silently replaced (a new key
// would open none of them).
func openSealer(dir string, mayCreate bool) (*sealer, error) {
	path := filepath.Join(dir, sealKeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !mayCreate {
			return nil, fmt.Errorf("open install key %s: it is missing, and the database holds card payments taken offline that only it opens; restore it from the backup it was made with: %w", path, ErrSealKey)
		}
		key, err = createSealKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open install key %s: %w: %w", path, ErrSealKey, err)
	}
	if len(key) != sealKeyLen {
		return nil, fmt.Errorf("open install key %s: %d bytes, not %d: %w", path, len(key), sealKeyLen, ErrSealKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("open install key %s: %w", path, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("open install key %s: %w", path, err)
	}
	return &sealer{aead: aead}, nil
}

// createSealKey writes a new random key to path, exclusively: two tills
// starting at once cannot end up with different keys.
func createSealKey(path string) ([]byte, error) {
	key := make([]byte, sealKeyLen)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// sealAD binds sealed bytes to their order and payment.
func sealAD(orderID, ref string) []byte {
	return []byte("till offline payment\x00" + orderID + "\x00" + ref)
}

// seal encrypts payload for the order's payment ref.
func (s *sealer) seal(orderID, ref string, payload []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(payload)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], payload, sealAD(orderID, ref))
}

// open decrypts what seal sealed for the same order and ref. Its errors
// never carry the bytes.
func (s *sealer) open(orderID, ref string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("open stored payment %s of order %s: not a sealed payload (%d bytes): %w", ref, orderID, len(sealed), ErrSealKey)
	}
	out, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], sealAD(orderID, ref))
	if err != nil {
		return nil, fmt.Errorf("open stored payment %s of order %s: it does not open with this till's install key: %w", ref, orderID, ErrSealKey)
	}
	return out, nil
}
