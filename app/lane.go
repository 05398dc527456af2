package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/drain"
)

// LaneParams configures a headless lane: the real till core — domain,
// store, outbox, drainer, API client — ringing up card sales with no window,
// for load and chaos runs (cmd/till-lane).
type LaneParams struct {
	Config Config
	// Sales is the number of sales the lane's database should hold when the
	// lane is done: a rerun after a kill carries on where it stopped, and 0
	// only resumes and drains.
	Sales int
	// Seed makes the carts and the declines reproducible: sale n's cart
	// depends only on Seed and n.
	Seed uint64
	// Concurrency bounds the card sales in progress at once (default 4).
	Concurrency int
	// DeclineRate is the share of sales whose first card is declined; the
	// next card goes on the same PaymentIntent.
	DeclineRate float64
	// RetryMax caps the outbox's backoff between attempts (default 2 s).
	RetryMax time.Duration
	// Committed, if set, receives each sale's order id as soon as the sale
	// is committed locally, one per line.
	Committed io.Writer
	Logger    *slog.Logger
}

// LaneSummary is what a lane reports when it is done.
type LaneSummary struct {
	Sales      int   `json:"sales"`      // orders in the database
	Completed  int   `json:"completed"`  // of which completed
	Pending    int   `json:"pending"`    // outbox entries not yet done
	Dead       int   `json:"dead"`       // dead letters
	ElapsedMS  int64 `json:"elapsed_ms"` // this run's wall time
	Unfinished int   `json:"unfinished"` // sales still tendering
}

// ErrStuck is returned for a sale that cannot progress: it is tendering,
// waits for nothing in the outbox, and has no card to collect — typically
// because an entry of its order was dead-lettered.
var ErrStuck = errors.New("the sale is waiting for nothing")

// RunLane runs a headless lane until its sales are completed and its
// outbox is drained (or ctx ends), then closes the till. It is safe to kill
// at any moment and run again with the same parameters.
func RunLane(ctx context.Context, p LaneParams) (LaneSummary, error) {
	start := time.Now()
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	if p.RetryMax <= 0 {
		p.RetryMax = 2 * time.Second
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	till, err := Open(Params{Config: p.Config, Logger: p.Logger, DrainConcurrency: p.Concurrency,
		DrainBackoff: drain.ExponentialBackoff(100*time.Millisecond, p.RetryMax)})
	if err != nil {
		return LaneSummary{}, err
	}
	defer till.Close()
	till.Start()

	var (
		wg       sync.WaitGroup
		slots    = make(chan struct{}, p.Concurrency)
		mu       sync.Mutex
		failures []error
	)
	pay := func(id string, declineFirst bool) {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := till.paySimulated(ctx, id, declineFirst); err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		}()
	}

	// Resume: sales a killed run left tendering carry on from the state
	// their PaymentIntents are really in.
	var resume []string
	err = till.store.View(func(tx *queue.Tx) error {
		return tx.ForEachOrder("", func(id string, data []byte) error {
			if isEndOfDayRecord(id) {
				return nil
			}
			o, err := order.Unmarshal(data, till.now)
			if err != nil {
				return err
			}
			if o.Status() == order.StatusTendering {
				resume = append(resume, id)
			}
			return nil
		})
	})
	if err != nil {
		return LaneSummary{}, fmt.Errorf("lane: find sales to resume: %w", err)
	}
	for _, id := range resume {
		pay(id, false)
	}

	for {
		n, err := till.orderCount()
		if err != nil {
			return LaneSummary{}, err
		}
		if n >= p.Sales || ctx.Err() != nil {
			break
		}
		rng := rand.New(rand.NewPCG(p.Seed, uint64(n)))
		o, err := till.randomBasket(rng)
		if err != nil {
			return LaneSummary{}, fmt.Errorf("lane: sale %d: %w", n, err)
		}
		declineFirst := rng.Float64() < p.DeclineRate
		if _, err := till.ChargeCard(o); err != nil {
			return LaneSummary{}, fmt.Errorf("lane: sale %d: %w", n, err)
		}
		if p.Committed != nil {
			fmt.Fprintln(p.Committed, o.ID())
		}
		pay(o.ID(), declineFirst)
	}
	wg.Wait()
	if err := till.waitDrained(ctx); err != nil {
		return LaneSummary{}, err
	}
	sum, err := till.laneSummary()
	sum.ElapsedMS = time.Since(start).Milliseconds()
	if err == nil {
		err = errors.Join(failures...)
	}
	return sum, err
}

// paySimulated drives one card sale to its end with the simulated reader:
// a card whenever the PaymentIntent waits for one (a declining card first
// if declineFirst), until the order completes.
func (t *Till) paySimulated(ctx context.Context, id string, declineFirst bool) error {
	declined := false
	retry := drain.ExponentialBackoff(50*time.Millisecond, time.Second)
	for failures := 0; ; {
		o, stuck, err := t.waitCardTurn(ctx, id)
		switch {
		case err != nil:
			return err
		case o.Status() != order.StatusTendering:
			return nil
		case stuck:
			return fmt.Errorf("pay order %s: %w", id, ErrStuck)
		}
		card := "visa"
		if declineFirst && !declined {
			card = "charge_declined"
		}
		_, err = t.collectSimulated(ctx, id, card)
		switch {
		case err == nil:
			declined = declined || card != "visa"
			failures = 0
		case errors.Is(err, ErrBusy), errors.Is(err, ErrNotReady):
		default:
			// The reader could not reach the API to take the card: try
			// again shortly, as a cashier would.
			failures++
			t.log.Info("lane: collect failed; retrying", "order", id, "err", err)
			timer := time.NewTimer(retry(failures))
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
		}
	}
}

// waitCardTurn waits until a card sale needs the reader (its PaymentIntent
// waits for a card), is over, or is stuck: tendering with nothing in the
// outbox that could move it on. The order and its entries are read in one
// transaction, so an entry completing in between cannot look like "stuck".
func (t *Till) waitCardTurn(ctx context.Context, id string) (o *order.Order, stuck bool, err error) {
	err = t.waitUntil(ctx, "order "+id, func() (bool, error) {
		err := t.store.View(func(tx *queue.Tx) error {
			var err error
			if o, err = loadOrder(tx, id, t.now); err != nil {
				return err
			}
			es, err := tx.OrderEntries(id)
			if err != nil {
				return err
			}
			stuck = !slices.ContainsFunc(es, func(e queue.Entry) bool {
				return e.State != queue.StateDead && e.State != queue.StateBlocked
			})
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("read order %s: %w", id, err)
		}
		if o.Status() != order.StatusTendering {
			stuck = false
			return true, nil
		}
		if c, ok := CurrentCard(o); ok && c.Payment.Status == order.PaymentRequiresPaymentMethod {
			stuck = false
			return true, nil
		}
		return stuck, nil
	})
	return o, stuck, err
}

// waitDrained waits until nothing in the outbox can still be sent.
func (t *Till) waitDrained(ctx context.Context) error {
	return t.waitUntil(ctx, "the outbox to drain", func() (bool, error) {
		st, err := t.store.Stats()
		return st.Pending == st.Blocked, err
	})
}

func (t *Till) orderCount() (int, error) {
	var n int
	err := t.store.View(func(tx *queue.Tx) (err error) { n, err = tx.OrderCount(); return err })
	return n, err
}

// randomBasket rings up one to five catalog products, one to three of each.
func (t *Till) randomBasket(rng *rand.Rand) (*order.Order, error) {
	o, err := t.lane.NewOrder()
	if err != nil {
		return nil, err
	}
	products := t.catalog.Products()
	for range 1 + rng.IntN(5) {
		p := products[rng.IntN(len(products))]
		if _, err := o.AddProduct(p, 1+rng.Int64N(3)); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (t *Till) laneSummary() (LaneSummary, error) {
	var s LaneSummary
	err := t.store.View(func(tx *queue.Tx) error {
		st, err := tx.Stats()
		if err != nil {
			return err
		}
		s.Pending, s.Dead = st.Pending, st.Dead
		return tx.ForEachOrder("", func(id string, data []byte) error {
			if isEndOfDayRecord(id) {
				return nil
			}
			o, err := order.Unmarshal(data, t.now)
			if err != nil {
				return err
			}
			s.Sales++
			switch o.Status() {
			case order.StatusCompleted:
				s.Completed++
			case order.StatusTendering:
				s.Unfinished++
			}
			return nil
		})
	})
	return s, err
}
