package order

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestValidateLane(t *testing.T) {
	for _, ok := range []string{"L1", "lane_2", "A", strings.Repeat("x", MaxLaneLen)} {
		if err := ValidateLane(ok); err != nil {
			t.Errorf("ValidateLane(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "L-1", "L 1", "Kasse/1", "é", strings.Repeat("x", MaxLaneLen+1)} {
		if err := ValidateLane(bad); !errors.Is(err, ErrInvalidLane) {
			t.Errorf("ValidateLane(%q) = %v, want ErrInvalidLane", bad, err)
		}
	}
	if _, err := NewLane("L1", incCHF, nil); err == nil {
		t.Error("NewLane with nil clock succeeded")
	}
	if _, err := NewLane("L1", Config{}, newClock().Now); err == nil {
		t.Error("NewLane with zero config succeeded")
	}
}

// Ids sort in creation order: within one millisecond, across
// milliseconds, and when the clock steps backwards.
func TestIDsSortable(t *testing.T) {
	clk := newClock()
	lane, err := NewLane("L7", incCHF, clk.Now)
	must(t, err)
	var ids []string
	for i := 0; i < 300; i++ {
		switch {
		case i == 200:
			clk.Add(-time.Hour) // NTP correction
		case i%50 == 0:
			clk.Add(time.Millisecond)
		}
		id, err := lane.NewID()
		must(t, err)
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Fatal("ids are not in creation order")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatal("duplicate ids")
	}
	l, u, err := SplitID(ids[0])
	must(t, err)
	if l != "L7" || !u.Timestamp().Equal(newClock().Now().Add(time.Millisecond)) {
		t.Errorf("SplitID = %s %v", l, u.Timestamp())
	}
}

func TestIDsUniqueConcurrently(t *testing.T) {
	clk := newClock()
	lane, err := NewLane("L1", incCHF, clk.Now)
	must(t, err)
	const workers, each = 8, 500
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				id, err := lane.NewID()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d unique ids of %d", len(seen), workers*each)
	}
}

func TestSplitIDRejects(t *testing.T) {
	good := "L1-" + ulid.Make().String()
	if _, _, err := SplitID(good); err != nil {
		t.Fatalf("SplitID(%q) = %v", good, err)
	}
	for _, bad := range []string{"", "L1", "-" + ulid.Make().String(), "L1-xyz", "L 1-" + ulid.Make().String(), "L1-" + ulid.Make().String() + "0"} {
		if _, _, err := SplitID(bad); err == nil {
			t.Errorf("SplitID(%q) succeeded", bad)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	lane, err := NewLane("L1", incCHF, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lane.NewID(); err != nil {
			b.Fatal(err)
		}
	}
}
