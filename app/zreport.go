package app

import (
	"fmt"
	"time"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/app/report"
	"github.com/tillpos/till/queue"
)

// ZReport is the Z report of the local day of day as the store holds it
// now: the day's sales, voids and refunds, the day's end-of-day actions
// as the outbox left them, and what is still open (payments stored
// offline, payments failed after their sale, the outbox).
func (t *Till) ZReport(day time.Time) (report.Report, error) {
	d, from, to := t.dayBounds(day)
	in := report.Input{Lane: t.lane.Name(), From: from, To: to, GeneratedAt: t.now(), Locale: t.locale}
	err := t.store.View(func(tx *queue.Tx) error {
		if err := t.forEachDayOrder(tx, from, to, func(o *order.Order) error {
			in.Orders = append(in.Orders, o)
			if !o.VoidedAfterPayment() {
				return nil
			}
			for _, tn := range o.Tenders() {
				if tn.Payment != nil && tn.Payment.Refunded {
					in.Refunds = append(in.Refunds, report.Action{OrderID: o.ID(), PaymentIntent: tn.Payment.PaymentIntentID,
						Amount: tn.Amount, Reason: o.VoidReason()})
				}
			}
			return nil
		}); err != nil {
			return err
		}
		done, failed, err := t.dayActions(tx, d)
		if err != nil {
			return err
		}
		cur := t.catalog.Currency()
		for _, a := range done {
			act := report.Action{OrderID: a.Row.OrderID, PaymentIntent: a.Row.PaymentIntent, Amount: rowMoney(a.Row, cur), Reason: a.Row.CancellationReason}
			if a.Row.Action == "capture" {
				in.Captured = append(in.Captured, act)
			} else {
				in.Cancelled = append(in.Cancelled, act)
			}
		}
		for _, a := range failed {
			in.ActionsFailed = append(in.ActionsFailed, report.Action{OrderID: a.Row.OrderID, PaymentIntent: a.Row.PaymentIntent,
				Amount: rowMoney(a.Row, cur), Reason: a.Row.Action})
		}
		stored, err := storedList.load(tx)
		if err != nil {
			return err
		}
		for _, s := range stored {
			in.OfflinePending = append(in.OfflinePending, report.Action{OrderID: s.Order, Amount: s.Amount, Reason: "offline"})
		}
		att, err := attentionList.load(tx)
		if err != nil {
			return err
		}
		for _, a := range att {
			in.PaymentsFailed = append(in.PaymentsFailed, report.Action{OrderID: a.Order, PaymentIntent: a.PaymentIntent, Amount: a.Amount, Reason: a.Reason})
		}
		st, err := tx.Stats()
		if err != nil {
			return err
		}
		in.OutboxPending, in.DeadLetters = st.Pending+st.InFlight, st.Dead
		return nil
	})
	if err != nil {
		return report.Report{}, fmt.Errorf("build the Z report of %s: %w", d, err)
	}
	r, err := report.Make(in)
	if err != nil {
		return report.Report{}, fmt.Errorf("build the Z report of %s: %w", d, err)
	}
	return r, nil
}
