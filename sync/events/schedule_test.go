package events_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/events"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// inProcess is an http.RoundTripper that serves requests with the
// sandbox's handler in the caller's goroutine, so that a poller and a real
// sandbox can run inside a synctest bubble, where no socket may be
// opened. While down it fails like a refused connection.
type inProcess struct {
	h    http.Handler
	down atomic.Bool

	mu    sync.Mutex
	start time.Time
	polls []time.Duration // when each GET /v1/events came, since start
}

func (tr *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/v1/events" {
		tr.mu.Lock()
		tr.polls = append(tr.polls, time.Since(tr.start))
		tr.mu.Unlock()
	}
	if tr.down.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// taken returns the poll times recorded since the last call.
func (tr *inProcess) taken() []time.Duration {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := tr.polls
	tr.polls = nil
	return p
}

// The poller looks again Every after catching up, at once on Wake, and
// after Backoff(1), Backoff(2), … while the API is unreachable; the
// attempt count starts over once it answers.
func TestScheduleEveryWakeAndBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := sandbox.New(sandbox.Options{Keys: []string{sandboxtest.Key}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		tr := &inProcess{h: srv, start: time.Now()}
		c, err := api.New(api.Config{BaseURL: "http://sandbox.invalid", Key: sandboxtest.Key, MaxAttempts: 1,
			HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu       sync.Mutex
			attempts []int
			states   []events.Status
		)
		st := newStore("")
		p, err := events.New(events.Config{
			Client: c, Load: st.load, Save: st.save, Apply: st.apply,
			Every: 2 * time.Second,
			Backoff: func(n int) time.Duration {
				mu.Lock()
				defer mu.Unlock()
				attempts = append(attempts, n)
				return time.Duration(n) * time.Second
			},
			OnState: func(s events.State) {
				mu.Lock()
				defer mu.Unlock()
				states = append(states, s.Status)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		stopped := false
		defer func() { // also when a check fails
			if !stopped {
				cancel()
				<-done
			}
		}()

		check := func(step string, want []time.Duration) {
			t.Helper()
			synctest.Wait()
			if got := tr.taken(); !slices.Equal(got, want) {
				t.Fatalf("%s: polls at %v, want %v", step, got, want)
			}
		}
		check("first poll", []time.Duration{0})
		time.Sleep(1999 * time.Millisecond)
		check("before Every", nil)
		time.Sleep(time.Millisecond)
		check("after Every", []time.Duration{2 * time.Second})
		time.Sleep(500 * time.Millisecond)
		p.Wake()
		check("wake", []time.Duration{2500 * time.Millisecond})

		tr.down.Store(true)
		time.Sleep(2 * time.Second) // the poll due at 4.5s fails
		check("offline", []time.Duration{4500 * time.Millisecond})
		time.Sleep(time.Second) // Backoff(1)
		check("retry 1", []time.Duration{5500 * time.Millisecond})
		time.Sleep(2 * time.Second) // Backoff(2)
		check("retry 2", []time.Duration{7500 * time.Millisecond})
		tr.down.Store(false)
		p.Wake() // in the middle of Backoff(3)
		check("back", []time.Duration{7500 * time.Millisecond})
		tr.down.Store(true)
		time.Sleep(2 * time.Second)
		check("offline again", []time.Duration{9500 * time.Millisecond})

		cancel()
		stopped = true
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := []int{1, 2, 3, 1}; !slices.Equal(attempts, want) {
			t.Errorf("Backoff called with %v, want %v", attempts, want)
		}
		want := []events.Status{events.Polling, events.CaughtUp, events.Offline, events.CaughtUp, events.Offline}
		if !slices.Equal(states, want) {
			t.Errorf("states %v, want %v", states, want)
		}
	})
}
