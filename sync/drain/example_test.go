package drain_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/drain"
)

// A store wakes the drainer on every commit; the executor would call the
// payment API with e.IdempotencyKey and classify the answer.
func Example() {
	dir, _ := os.MkdirTemp("", "drain-example")
	defer os.RemoveAll(dir)

	wake := make(chan struct{}, 1)
	store, err := queue.Open(filepath.Join(dir, "till.db"), queue.Options{OnChange: func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	events := make(chan drain.Event, 16)
	d, err := drain.New(drain.Config{
		Store: store,
		Wake:  wake,
		Executor: drain.ExecutorFunc(func(ctx context.Context, e queue.Entry) drain.Outcome {
			// POST … with Idempotency-Key: e.IdempotencyKey
			return drain.Outcome{Kind: drain.Done, Record: func(tx *queue.Tx) error {
				return tx.PutOrder(e.OrderID, []byte(`{"payment_intent":"pi_123","status":"requires_capture"}`))
			}}
		}),
		Probe: func(context.Context) error { return nil },
		OnEvent: func(ev drain.Event) {
			select { // never block the drainer
			case events <- ev:
			default:
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Ring up a sale: the order and its API call in one transaction.
	err = store.Update(func(tx *queue.Tx) error {
		if err := tx.PutOrder("lane1-0001", []byte(`{"total":1000,"currency":"eur"}`)); err != nil {
			return err
		}
		_, err := tx.Enqueue(queue.NewEntry{OrderID: "lane1-0001", Op: queue.OpCreate, Payload: []byte("amount=1000&currency=eur")})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	for ev := range events {
		if ev.State == drain.Online && ev.Pending == 0 && ev.InFlight == 0 {
			fmt.Println(ev.State, "pending:", ev.Pending, "dead:", ev.Dead)
			break
		}
	}
	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// online pending: 0 dead: 0
	// stopped: <nil>
}
