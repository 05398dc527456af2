package api_test

import (
	"bytes"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/sync/api"
)

// syncBuffer is a log sink safe for the handler's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waits records the back-off calls of a client and never waits, so tests
// run retries without sleeping.
type waits struct {
	mu          sync.Mutex
	retryAfters []time.Duration
	attempts    []int
}

func (w *waits) backoff(attempts int, retryAfter time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attempts = append(w.attempts, attempts)
	w.retryAfters = append(w.retryAfters, retryAfter)
	return 0
}

func (w *waits) got() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.retryAfters...)
}

type testClient struct {
	*api.Client
	waits *waits
	logs  *syncBuffer
}

// newClient builds a client for baseURL with recorded, zero back-off and a
// debug log captured in memory. mod adjusts the Config.
func newClient(t testing.TB, baseURL, key string, mod ...func(*api.Config)) *testClient {
	t.Helper()
	w := &waits{}
	logs := &syncBuffer{}
	cfg := api.Config{
		BaseURL:     baseURL,
		Key:         key,
		MaxAttempts: 3,
		Backoff:     w.backoff,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := api.New(cfg)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return &testClient{Client: c, waits: w, logs: logs}
}

// closedURL returns the base URL of a loopback port nobody listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func asAPIError(t testing.TB, err error) *api.Error {
	t.Helper()
	e, ok := err.(*api.Error)
	if !ok {
		t.Fatalf("error %T %v is not an *api.Error", err, err)
	}
	return e
}
