package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillpos/till/sync/sandbox"
)

// TestRunServesUntilCancelled runs the program on a free port with a data
// file, reads the URL it prints, creates a customer, stops it (as SIGINT
// would) and starts it again on the same file.
func TestRunServesUntilCancelled(t *testing.T) {
	data := filepath.Join(t.TempDir(), "sandbox.db")
	start := func() (string, context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", data, "-key", "sk_test_cmd"}, pw, io.Discard)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("no URL printed: %v (run: %v)", err, <-done)
		}
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		return strings.TrimSpace(line), cancel, done
	}
	call := func(url, method, path string) int {
		req, _ := http.NewRequest(method, url+path, nil)
		req.Header.Set("Authorization", "Bearer sk_test_cmd")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if method == "GET" && !strings.Contains(string(body), `"cus_`) {
			t.Fatalf("customer lost: %s", body)
		}
		return res.StatusCode
	}

	url, cancel, done := start()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q", url)
	}
	if code := call(url, "POST", "/v1/customers"); code != 200 {
		t.Fatalf("create customer: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	url, cancel, done = start()
	defer func() { cancel(); <-done }()
	if code := call(url, "GET", "/v1/customers"); code != 200 {
		t.Fatalf("list customers: %d", code)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-key", "sk_live_x"}, {"-nope"}, {"-addr", "256.0.0.1:1"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestRunReleasesDataFileWhenStartFails: a listen error must not leave the
// data file open (and locked).
func TestRunReleasesDataFileWhenStartFails(t *testing.T) {
	data := filepath.Join(t.TempDir(), "sandbox.db")
	if err := run(context.Background(), []string{"-addr", "256.0.0.1:1", "-data", data}, io.Discard, io.Discard); err == nil {
		t.Fatal("bad address: no error")
	}
	srv, err := sandbox.New(sandbox.Options{DataFile: data})
	if err != nil {
		t.Fatalf("data file still held after the failed start: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
