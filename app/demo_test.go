package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/ui"
)

// Demo sales for tests: real sales through the real flows, rung up
// without a cashier screen.

// demoBasket rings up a few catalog products, chosen by the number of
// orders so far so successive demo sales differ.
func (t *Till) demoBasket() (*order.Order, error) {
	o, err := t.lane.NewOrder()
	if err != nil {
		return nil, err
	}
	products := t.catalog.Products()
	if len(products) == 0 {
		return nil, errors.New("the catalog is empty")
	}
	n, err := t.orderCount()
	if err != nil {
		return nil, err
	}
	for i, qty := range []int64{2, 1, 1} {
		p := products[(n*3+i*7)%len(products)]
		if _, err := o.AddProduct(p, qty); err != nil {
			return nil, fmt.Errorf("add %s: %w", p.SKU, err)
		}
	}
	return o, nil
}

// DemoCashSale rings up a demo basket and settles it with the smallest
// round sum of cash that covers it.
func (t *Till) DemoCashSale() (*order.Order, error) {
	o, err := t.demoBasket()
	if err != nil {
		return nil, fmt.Errorf("demo cash sale: %w", err)
	}
	due, err := o.CashDue(t.cash)
	if err != nil {
		return nil, fmt.Errorf("demo cash sale: %w", err)
	}
	given, err := roundUp(due, 10*due.Currency.Pow10())
	if err != nil {
		return nil, fmt.Errorf("demo cash sale: %w", err)
	}
	if _, err := t.PayCash(o, given); err != nil {
		return nil, err
	}
	return o, nil
}

// DemoCardSale rings up a demo basket and charges it by card: the order is
// committed in tendering with its PaymentIntent creation in the outbox.
//
// Then the reader collects a card, waiting at most wait for each step: on
// the built-in simulated reader a Visa is tapped at once; on any other
// reader the customer presents one. The sale completes when the API
// authorises it. If the API does not answer in time
// the sale stays committed, in tendering, and the outbox carries on.
func (t *Till) DemoCardSale(wait time.Duration) (*order.Order, error) {
	o, err := t.demoBasket()
	if err != nil {
		return nil, fmt.Errorf("demo card sale: %w", err)
	}
	if _, err := t.ChargeCard(o); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	id := o.ID()
	ready := func(o *order.Order) bool { _, ok := CurrentCard(o); return ok }
	if _, err := t.WaitOrder(ctx, id, ready); err != nil {
		return o, fmt.Errorf("demo card sale %s is kept; the payment API has not created its payment yet: %w", id, err)
	}
	collect := func() error { _, err := t.CollectCard(ctx, id); return err }
	if t.sim != nil {
		collect = func() error { _, err := t.collectSimulated(ctx, id, "visa"); return err }
	}
	if err := collect(); err != nil {
		return o, err
	}
	settled := func(o *order.Order) bool { done, _ := CardOutcome(o); return done }
	done, err := t.WaitOrder(ctx, id, settled)
	if err != nil {
		return o, fmt.Errorf("demo card sale %s is kept; its card is not processed yet: %w", id, err)
	}
	return done, nil
}

// demoActions are the status screen's buttons until the cashier screen
// exists: they ring up real sales through the real flows.
func (t *Till) demoActions() []ui.Action {
	return []ui.Action{
		{Label: "Ring up a demo cash sale", Run: func() error { _, err := t.DemoCashSale(); return err }},
		{Label: "Ring up a demo card sale", Run: func() error { _, err := t.DemoCardSale(30 * time.Second); return err }},
	}
}

// roundUp rounds m up to a multiple of step minor units.
func roundUp(m money.Money, step int64) (money.Money, error) {
	r := m.Amount % step
	if r == 0 {
		return m, nil
	}
	return m.Add(money.New(step-r, m.Currency))
}
