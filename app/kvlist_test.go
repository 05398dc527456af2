package app

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/queue"
)

func TestKVListOneValuePerItem(t *testing.T) {
	s, err := queue.Open(filepath.Join(t.TempDir(), "till.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l := kvList[openAuth]{key: "auth.open", what: "test list", id: func(a openAuth) string { return a.PaymentIntent }}
	// Far more than one value could hold (64 KiB): a busy day.
	const n = 3000
	err = s.Update(func(tx *queue.Tx) error {
		for i := range n {
			if err := l.add(tx, openAuth{Order: "lane1-order", PaymentIntent: "pi_" + strings.Repeat("x", 20) + itoa(i), CaptureBefore: time.Unix(int64(i), 0)}); err != nil {
				return err
			}
		}
		// Replacing an item keeps one; an id too long for a key still works.
		if err := l.add(tx, openAuth{PaymentIntent: "pi_" + strings.Repeat("x", 20) + "7"}); err != nil {
			return err
		}
		return l.add(tx, openAuth{PaymentIntent: strings.Repeat("p", 255)})
	})
	if err != nil {
		t.Fatal(err)
	}
	items, err := l.view(s)
	if err != nil || len(items) != n+1 {
		t.Fatalf("%d items, %v; want %d", len(items), err, n+1)
	}
	err = s.Update(func(tx *queue.Tx) error {
		return l.remove(tx, func(a openAuth) bool { return len(a.PaymentIntent) > 100 || strings.HasSuffix(a.PaymentIntent, "x1") })
	})
	if items, _ := l.view(s); err != nil || len(items) != n-1 {
		t.Fatalf("after remove: %d items, %v; want %d", len(items), err, n-1)
	}
}

// A list an earlier version kept as one JSON array is read, and moved to
// one value per item at its first change.
func TestKVListLegacyArray(t *testing.T) {
	s, err := queue.Open(filepath.Join(t.TempDir(), "till.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Update(func(tx *queue.Tx) error { return tx.PutValue(pendingKey, []byte(`["lane1-a","lane1-b"]`)) }); err != nil {
		t.Fatal(err)
	}
	if ids, err := pendingList.view(s); err != nil || strings.Join(ids, ",") != "lane1-a,lane1-b" {
		t.Fatalf("legacy list: %v, %v", ids, err)
	}
	if err := s.Update(func(tx *queue.Tx) error { return markPending(tx, "lane1-a", false) }); err != nil {
		t.Fatal(err)
	}
	var legacy []byte
	ids, err := pendingList.view(s)
	_ = s.View(func(tx *queue.Tx) error { legacy, err = tx.Value(pendingKey); return err })
	if err != nil || legacy != nil || strings.Join(ids, ",") != "lane1-b" {
		t.Fatalf("after a change: %v (legacy value %q), %v", ids, legacy, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
