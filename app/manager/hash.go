package manager

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	// DefaultIterations is the PBKDF2-HMAC-SHA256 iteration count HashPIN
	// uses, as recommended by OWASP's password storage guidance.
	DefaultIterations = 600_000
	// MaxIterations is the largest iteration count Verify accepts, so that a
	// tampered hash cannot make one check run for minutes.
	MaxIterations = 10_000_000

	// MinPINLen and MaxPINLen bound the number of digits in a PIN.
	MinPINLen = 4
	MaxPINLen = 8

	scheme  = "pbkdf2-sha256"
	saltLen = 16
	keyLen  = 32
)

// These errors are returned (wrapped) by this package; test for them with
// errors.Is.
var (
	// ErrBadPIN means a PIN is not 4 to 8 ASCII digits. HashPIN refuses such
	// a PIN; Guard.Check returns it without counting a wrong try, since no
	// valid PIN looks like that.
	ErrBadPIN = errors.New("manager PIN must be 4 to 8 digits")
	// ErrBadHash means an encoded PIN hash is malformed, for example a
	// configuration file edited by hand. The wrapping error names the part
	// that is wrong.
	ErrBadHash = errors.New("malformed manager PIN hash")
	// ErrWrongPIN means the PIN does not match. Guard.Check returns it inside
	// a *WrongPINError.
	ErrWrongPIN = errors.New("wrong manager PIN")
	// ErrLocked means too many wrong PINs in a row: the Guard refuses every
	// PIN for a while. Guard.Check returns it inside a *LockedError.
	ErrLocked = errors.New("manager PIN locked")
	// ErrNoPIN means no manager PIN has been set, so no PIN can pass.
	ErrNoPIN = errors.New("no manager PIN is set")
)

// HashPIN returns the encoded PBKDF2-HMAC-SHA256 hash of pin with a fresh
// random salt and DefaultIterations, in the form
// "pbkdf2-sha256$<iterations>$<salt>$<key>" (unpadded standard base64).
// A pin that is not 4 to 8 ASCII digits is refused with ErrBadPIN.
func HashPIN(pin string) (string, error) {
	return hashPIN(pin, DefaultIterations)
}

// hashPIN is HashPIN with a chosen cost; tests use a low one.
func hashPIN(pin string, iterations int) (string, error) {
	if err := checkPIN(pin); err != nil {
		return "", fmt.Errorf("hash manager PIN: %w", err)
	}
	if iterations < 1 || iterations > MaxIterations {
		return "", fmt.Errorf("hash manager PIN: iterations %d out of range 1..%d", iterations, MaxIterations)
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails, always fills salt
	return encode(pin, iterations, salt)
}

// encode derives the key for pin and salt and formats the encoded hash.
func encode(pin string, iterations int, salt []byte) (string, error) {
	key, err := pbkdf2.Key(sha256.New, pin, salt, iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash manager PIN: %w", err)
	}
	enc := base64.RawStdEncoding
	return scheme + "$" + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// checkPIN reports why pin is not a valid PIN, never quoting it.
func checkPIN(pin string) error {
	if n := len(pin); n < MinPINLen || n > MaxPINLen {
		return fmt.Errorf("%w: got %d characters", ErrBadPIN, n)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fmt.Errorf("%w: character %d is not a digit 0-9", ErrBadPIN, i+1)
		}
	}
	return nil
}

// Verify reports whether pin matches encoded, a value from HashPIN. The
// derived keys are compared in constant time. A malformed encoded value is an
// error wrapping ErrBadHash that names the faulty part, never its contents.
// A pin that is not 4 to 8 digits cannot match and yields false, nil.
func Verify(encoded, pin string) (bool, error) {
	iterations, salt, want, err := decode(encoded)
	if err != nil {
		return false, fmt.Errorf("verify manager PIN: %w", err)
	}
	if checkPIN(pin) != nil {
		return false, nil
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iterations, keyLen)
	if err != nil {
		return false, fmt.Errorf("verify manager PIN: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// decode splits an encoded hash into its parts. Its errors wrap ErrBadHash
// and describe the fault without quoting any part of encoded.
func decode(encoded string) (iterations int, salt, key []byte, err error) {
	if encoded == "" {
		return 0, nil, nil, fmt.Errorf("%w: empty", ErrBadHash)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return 0, nil, nil, fmt.Errorf("%w: want 4 fields separated by '$', got %d", ErrBadHash, len(parts))
	}
	if parts[0] != scheme {
		return 0, nil, nil, fmt.Errorf("%w: unknown scheme, want %q", ErrBadHash, scheme)
	}
	iterations, err = parseIterations(parts[1])
	if err != nil {
		return 0, nil, nil, err
	}
	enc := base64.RawStdEncoding.Strict()
	salt, err = enc.DecodeString(parts[2])
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: salt is not unpadded standard base64", ErrBadHash)
	}
	if len(salt) != saltLen {
		return 0, nil, nil, fmt.Errorf("%w: salt is %d bytes, want %d", ErrBadHash, len(salt), saltLen)
	}
	key, err = enc.DecodeString(parts[3])
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: key is not unpadded standard base64", ErrBadHash)
	}
	if len(key) != keyLen {
		return 0, nil, nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrBadHash, len(key), keyLen)
	}
	return iterations, salt, key, nil
}

// parseIterations accepts a plain decimal count in 1..MaxIterations.
func parseIterations(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: iteration count is empty", ErrBadHash)
	}
	if len(s) > len(strconv.Itoa(MaxIterations)) {
		return 0, fmt.Errorf("%w: iteration count out of range 1..%d", ErrBadHash, MaxIterations)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: iteration count is not a decimal number", ErrBadHash)
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > MaxIterations {
		return 0, fmt.Errorf("%w: iteration count out of range 1..%d", ErrBadHash, MaxIterations)
	}
	return n, nil
}
