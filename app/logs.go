package app

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Log rotation: till.log grows to logMaxMB, then is renamed with its
// time and compressed; logBackups of those are kept, none older than
// logMaxDays.
const (
	logFile    = "till.log"
	logMaxMB   = 5
	logBackups = 5
	logMaxDays = 30
)

// openLog starts the log: text records to dir/till.log, rotated, and to
// stderr as well. Every record passes through a scrubber that removes
// API keys, so a key that reaches a log line by some path nobody foresaw
// is still not written. The closer flushes and closes the file.
func openLog(dir string, stderr io.Writer, keys *scrubber) (*slog.Logger, io.Closer, error) {
	return startLog(logRotator(dir), stderr, keys)
}

// logRotator is the rotation of dir/till.log. Caveat: lumberjack
// compresses a rotated file on a goroutine of its own, which Close does
// not wait for.
func logRotator(dir string) *lumberjack.Logger {
	return &lumberjack.Logger{
		Filename:   filepath.Join(dir, logFile),
		MaxSize:    logMaxMB,
		MaxBackups: logBackups,
		MaxAge:     logMaxDays,
		Compress:   true,
	}
}

// startLog is openLog on a given rotation.
func startLog(rot *lumberjack.Logger, stderr io.Writer, keys *scrubber) (*slog.Logger, io.Closer, error) {
	if err := os.MkdirAll(filepath.Dir(rot.Filename), 0o700); err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	// Fail now, with the path, rather than silently on the first record.
	if _, err := rot.Write(nil); err != nil {
		return nil, nil, fmt.Errorf("open log %s: %w", rot.Filename, err)
	}
	out := &scrubWriter{w: io.MultiWriter(rot, stderr), s: keys}
	return slog.New(slog.NewTextHandler(out, nil)), rot, nil
}

// keyPattern matches what Stripe-style secret and restricted keys and
// webhook signing secrets look like, whatever key is configured. It has no
// leading word boundary: "STRIPE_KEY_sk_live_…" must lose its key too, and
// redacting the tail of an odd identifier costs nothing.
var keyPattern = regexp.MustCompile(`(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z_]{4,})|(?:whsec_[0-9A-Za-z]{8,})`)

// scrubber removes secrets from text: the keys it was told about, and
// anything shaped like a secret API key.
type scrubber struct {
	mu   sync.RWMutex
	keys [][]byte
}

// Add registers a secret to remove (a key entered in the settings, one
// read from the keyring). Short values are ignored: they would blank out
// ordinary words and no real key is that short.
func (s *scrubber) Add(k Secret) {
	if s == nil || len(k) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if string(have) == k.Reveal() {
			return
		}
	}
	s.keys = append(s.keys, []byte(k.Reveal()))
}

// Scrub returns p without any secret.
func (s *scrubber) Scrub(p []byte) []byte {
	if s != nil {
		s.mu.RLock()
		for _, k := range s.keys {
			p = bytes.ReplaceAll(p, k, []byte(redacted))
		}
		s.mu.RUnlock()
	}
	return keyPattern.ReplaceAll(p, []byte(redacted))
}

// scrubWriter writes through a scrubber. slog's handlers write one whole
// record per Write, so a secret is never split across two calls.
type scrubWriter struct {
	mu sync.Mutex
	w  io.Writer
	s  *scrubber
}

func (w *scrubWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(w.s.Scrub(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
