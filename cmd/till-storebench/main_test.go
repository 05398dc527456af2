package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs the whole harness on tiny fixtures, as CI does.
func TestRunSmoke(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, config{dir: t.TempDir(), n: 20, small: 10, history: 200, orders: 300, opens: 3}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"commit: raw bbolt Put of", "outbox drained", "outbox growing", "x floor",
		"Stats(), history=10 ", "Stats(), history=200 ", "next due (Lease, none due), history=200",
		"Open+Close, orders=300",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		n, p, want int
	}{
		{100, 50, 50}, {100, 99, 99}, {1, 50, 1}, {1, 99, 1}, {10, 99, 10}, {200, 50, 100},
	} {
		var s []time.Duration
		for i := tc.n; i >= 1; i-- {
			s = append(s, time.Duration(i))
		}
		if got := pct(s, tc.p); got != time.Duration(tc.want) {
			t.Errorf("pct(1..%d, %d) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}
