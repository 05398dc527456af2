package queue_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tillpos/till/queue"
)

// A sale and its outbox entries are committed together; the drainer then
// leases the entries one by one, in order, and records each result on the
// order in the same transaction as the completion.
func Example() {
	dir, err := os.MkdirTemp("", "till-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)
	s, err := queue.Open(filepath.Join(dir, "till.db"), queue.Options{Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	err = s.Update(func(tx *queue.Tx) error {
		if err := tx.PutOrder("lane1-01JDA", []byte(`{"total":1250,"currency":"chf"}`)); err != nil {
			return err
		}
		for _, op := range []queue.Op{queue.OpCreate, queue.OpCapture} {
			if _, err := tx.Enqueue(queue.NewEntry{OrderID: "lane1-01JDA", Op: op}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	for {
		l, err := s.Lease(now)
		if errors.Is(err, queue.ErrNoneDue) {
			break
		} else if err != nil {
			log.Fatal(err)
		}
		fmt.Println("call", l.Entry.Op, "with Idempotency-Key", l.Entry.IdempotencyKey)
		err = s.Complete(l, func(tx *queue.Tx) error {
			o, err := tx.Order(l.Entry.OrderID)
			if err != nil {
				return err
			}
			return tx.PutOrder(l.Entry.OrderID, append(o, " "+l.Entry.Op.String()+"d"...))
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	st, _ := s.Stats()
	fmt.Printf("pending %d, done %d\n", st.Pending, st.Done)
	_ = s.View(func(tx *queue.Tx) error {
		o, err := tx.Order("lane1-01JDA")
		fmt.Printf("%s\n", o)
		return err
	})
	// Output:
	// call create with Idempotency-Key lane1-01JDA:create:1
	// call capture with Idempotency-Key lane1-01JDA:capture:2
	// pending 0, done 2
	// {"total":1250,"currency":"chf"} created captured
}
