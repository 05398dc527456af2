package queue

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

var entryTable = []Entry{
	{Seq: 1, OrderID: "lane1-01JDA", Op: OpCreate, Payload: []byte("amount=1200&currency=chf"), State: StatePending,
		Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), NextAttempt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)},
	{Seq: 1 << 40, OrderID: "x", Op: OpCancel, State: StateDead, Attempts: 7, LastError: "card_declined: insufficient_funds",
		Created: time.Unix(0, 1).UTC(), NextAttempt: time.Unix(1<<33, 5).UTC(), Finished: time.Unix(1<<33, 6).UTC()},
	{Seq: 42, OrderID: "lane2-ZZ", Op: OpCapture, State: StatePending, Attempts: 2, leaseGen: 9, Payload: []byte{0, 1, 2, 255}},
	{Seq: 7, OrderID: "o", Op: OpConfirm, State: StateDiscarded, LastError: "discarded: paid in cash; last error: é"},
}

func init() {
	for i := range entryTable {
		e := &entryTable[i]
		e.IdempotencyKey = IdempotencyKey(e.OrderID, e.Op, e.Seq)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range entryTable {
		got, err := decodeEntry(encodeEntry(&e))
		if err != nil {
			t.Fatalf("decode(%+v): %v", e, err)
		}
		if len(e.Payload) == 0 {
			e.Payload = nil
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, e)
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := encodeEntry(&entryTable[0])
	bad := map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{2}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"unknown op":    mutate(&entryTable[0], func(e *Entry) { e.Op = 9 }),
		"unknown state": mutate(&entryTable[0], func(e *Entry) { e.State = 0 }),
		"wrong key":     mutate(&entryTable[0], func(e *Entry) { e.IdempotencyKey = "lane1-01JDA:create:2" }),
		"bad order id":  mutate(&entryTable[0], func(e *Entry) { e.OrderID = "a b" }),
	}
	for name, b := range bad {
		if _, err := decodeEntry(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func mutate(e *Entry, f func(*Entry)) []byte {
	c := *e
	f(&c)
	return encodeEntry(&c)
}

// FuzzDecodeEntry: decoding arbitrary bytes never panics, and whatever
// decodes encodes back to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range entryTable {
		f.Add(encodeEntry(&e))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again := encodeEntry(&e)
		e2, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("unstable: %+v vs %+v", e, e2)
		}
		if !bytes.Equal(encodeEntry(&e2), again) {
			t.Fatal("encoding not canonical after one round")
		}
	})
}
