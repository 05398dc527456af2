// Package sandboxtest starts a sandbox server for a test: a real HTTP
// server on a free loopback port, closed when the test ends.
//
// # Basics
//
//	srv := sandboxtest.New(t, sandbox.Options{})
//	client := myapi.New(srv.URL, srv.Key)
//	srv.AdvanceClock(t, 49*time.Hour) // let authorisations expire
//	srv.InjectFaults(t, sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{{
//		Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultDropAfterCommit, Times: 1}}})
//
// # Caveats
//
// Production code must not import this package: it imports testing.
package sandboxtest

import (
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
)

// Key is the API key New configures when Options.Keys is empty.
const Key = "sk_test_sandboxtest_4242"

// Server is a running sandbox.
type Server struct {
	*sandbox.Server
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Key is an accepted secret key.
	Key string
}

// New starts a sandbox on 127.0.0.1:0 and registers its shutdown with
// t.Cleanup. With no Options.Keys it accepts Key only.
func New(tb testing.TB, opts sandbox.Options) *Server {
	tb.Helper()
	if len(opts.Keys) == 0 {
		opts.Keys = []string{Key}
	}
	s, err := sandbox.New(opts)
	if err != nil {
		tb.Fatalf("sandboxtest: new sandbox: %v", err)
	}
	url, err := s.StartLoopback()
	if err != nil {
		tb.Fatalf("sandboxtest: start sandbox: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("sandboxtest: close sandbox: %v", err)
		}
	})
	return &Server{Server: s, URL: url, Key: opts.Keys[0]}
}

// AdvanceClock moves the sandbox clock forward, failing the test on error.
func (s *Server) AdvanceClock(tb testing.TB, d time.Duration) {
	tb.Helper()
	if err := s.Server.Advance(d); err != nil {
		tb.Fatalf("sandboxtest: advance clock: %v", err)
	}
}

// InjectFaults installs fault rules, failing the test on an invalid rule.
func (s *Server) InjectFaults(tb testing.TB, cfg sandbox.FaultConfig) {
	tb.Helper()
	if err := s.SetFaults(cfg); err != nil {
		tb.Fatalf("sandboxtest: set faults: %v", err)
	}
}
