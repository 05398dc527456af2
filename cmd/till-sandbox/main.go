// Command till-sandbox serves Till's Stripe-compatible sandbox API.
//
//	go run ./cmd/till-sandbox -addr 127.0.0.1:12111 [-data FILE] [-key sk_test_…]
//
// It prints the base URL it serves, then runs until SIGINT or SIGTERM and
// shuts down gracefully (in-flight requests finish, the data file is
// flushed). See docs/sandbox.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tillpos/till/sync/sandbox"
)

type keyList []string

func (k *keyList) String() string { return fmt.Sprintf("%d key(s)", len(*k)) }
func (k *keyList) Set(v string) error {
	if !strings.HasPrefix(v, "sk_test_") {
		return errors.New("keys must start with sk_test_")
	}
	*k = append(*k, v)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "till-sandbox:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done (SIGINT/SIGTERM in main), then shuts down
// gracefully. The base URL is the first line written to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("till-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:12111", "listen address")
	data := fs.String("data", "", "persist state in this bbolt data file (loaded at start, each change committed before it is answered)")
	var keys keyList
	fs.Var(&keys, "key", "accepted secret key (repeatable); default: any sk_test_ key")
	publicURL := fs.String("public-url", "", "base URL put into wallet redirect links (default: the request's Host)")
	authExpiry := fs.Duration("auth-expiry", 48*time.Hour, "card_present authorisation window")
	idemTTL := fs.Duration("idempotency-ttl", 24*time.Hour, "how long idempotency keys are kept")
	seed := fs.Int64("seed", 0, "seed for ids and faults (0: random)")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := sandbox.New(sandbox.Options{
		Keys: keys, DataFile: *data, PublicURL: *publicURL, AuthExpiry: *authExpiry,
		IdempotencyTTL: *idemTTL, Seed: *seed, Logger: logger,
	})
	if err != nil {
		return err
	}
	url, err := srv.Start(*addr)
	if err != nil {
		// Close releases the data file.
		return errors.Join(err, srv.Close())
	}
	fmt.Fprintln(stdout, url)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
