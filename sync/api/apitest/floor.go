// Package apitest holds measuring helpers for benchmarks that compare the
// API client (or anything built on it, such as the outbox drainer) with the
// floor: bare net/http requests to the same endpoint in the same run.
//
// # Basics
//
//	elapsed, err := apitest.BarePosts(ctx, srv.URL, srv.Key, "/v1/payment_intents",
//		body, n, concurrency)
//	floor := float64(n) / elapsed.Seconds() // requests per second
//
// # Caveats
//
// The floor does no retries, no back-off, no decoding beyond draining the
// body and no logging: it is the least any client must do. Each request
// carries a fresh Idempotency-Key so that the server really executes it.
package apitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BarePosts sends n form-encoded POSTs of body to baseURL+path with
// concurrency workers over one pooled net/http client, and returns the wall
// time taken. Every answer must be 2xx; the first other status or transport
// error is returned.
func BarePosts(ctx context.Context, baseURL, key, path string, body []byte, n, concurrency int) (time.Duration, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency * 2
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	url := strings.TrimRight(baseURL, "/") + path
	run := fmt.Sprintf("floor-%d", time.Now().UnixNano())

	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) || ctx.Err() != nil {
					return
				}
				if err := post(ctx, hc, url, key, fmt.Sprintf("%s-%d", run, i), body); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

func post(ctx context.Context, hc *http.Client, url, key, idemKey string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", idemKey)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bare POST: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("bare POST: read body: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bare POST: HTTP %d", resp.StatusCode)
	}
	return nil
}
