package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/reconcile"
	"github.com/tillpos/till/ui"
)

// End of day (SPEC §2.2): the day's PaymentIntents are listed from the
// payment service (every page), matched to the lane's orders, and the
// manager is shown a plan — authorisations to capture or cancel, and
// everything else that needs an eye: authorisations near expiry, sales
// the service does not know, outbox entries pending or dead, payments
// stored offline, payments that failed after their sale. Applying the
// plan enqueues its captures and cancellations in the outbox, in one
// transaction with the day's end-of-day record, so they are sent once,
// idempotently, and a second end of day finds them done or queued and
// does nothing again. The Z report is built from the day's orders and
// that record.

// DayPlan is one end of day's plan.
type DayPlan struct {
	Day      string         `json:"day"` // the local date, 2006-01-02
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Plan     reconcile.Plan `json:"plan"`
	Pages    int            `json:"pages"` // list calls made
	currency money.Currency // the till's, for amounts of rows without one
}

// endOfDayRecord is what the till keeps of a day's end of day: every
// action it enqueued, with its outbox entry. It lives in the orders
// bucket under its own id, so that the cancellation of a PaymentIntent no
// sale of this till knows has an owner in the outbox.
type endOfDayRecord struct {
	Lane    string      `json:"lane"`
	Day     string      `json:"day"`
	Actions []eodAction `json:"actions"`
}

type eodAction struct {
	Row   reconcile.Row `json:"row"`
	Owner string        `json:"owner"` // the outbox entry's order: the sale, or this record
	Entry uint64        `json:"entry"`
	At    time.Time     `json:"at"`
}

const eodMarker = "~eod-"

// endOfDayRecordID names a day's record: after every "lane-…" order id
// in key order, and never a sale's.
func endOfDayRecordID(lane, day string) string { return lane + eodMarker + day }

// isEndOfDayRecord says whether an id in the orders bucket is an end of
// day record rather than a sale.
func isEndOfDayRecord(id string) bool { return strings.Contains(id, eodMarker) }

// countEndOfDayRecords counts this lane's end-of-day records, which share
// the orders bucket with the sales (one per day closed with actions).
func (t *Till) countEndOfDayRecords(tx *queue.Tx) (int, error) {
	prefix := t.lane.Name() + eodMarker
	n := 0
	err := tx.ForEachOrder(t.lane.Name()+"~eod", func(id string, _ []byte) error {
		if !strings.HasPrefix(id, prefix) {
			return errStop
		}
		n++
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return n, err
}

// dayBounds is the local calendar day of at: [00:00, next 00:00).
func (t *Till) dayBounds(at time.Time) (day string, from, to time.Time) {
	at = at.In(t.loc)
	from = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, t.loc)
	to = from.AddDate(0, 0, 1)
	return from.Format(time.DateOnly), from, to
}

// forEachDayOrder walks the lane's orders created in [from, to), oldest
// first (order ids are the lane, "-" and a ULID of their creation).
func (t *Till) forEachDayOrder(tx *queue.Tx, from, to time.Time, fn func(o *order.Order) error) error {
	prefix := t.lane.Name() + "-"
	start := prefix + ulidPrefix(from)
	end := prefix + ulidPrefix(to)
	// ForEachOrder starts after its argument: step back one byte.
	after := start[:len(start)-1] + string(start[len(start)-1]-1)
	err := tx.ForEachOrder(after, func(id string, data []byte) error {
		if id >= end || !strings.HasPrefix(id, prefix) {
			return errStop
		}
		if id < start {
			return nil
		}
		o, err := order.Unmarshal(data, t.now)
		if err != nil {
			return nil // unreadable: on the status screen, not in a report
		}
		return fn(o)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// ulidPrefix is the time part of a ULID made at t (ten characters).
func ulidPrefix(t time.Time) string {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(t)); err != nil {
		return strings.Repeat("7", 10) // past ULID time: after every id
	}
	return id.String()[:10]
}

// localOf is what reconciliation needs to know of a sale.
func localOf(o *order.Order) reconcile.Local {
	l := reconcile.Local{OrderID: o.ID(), Status: string(o.Status()), Currency: o.Currency().StripeCode()}
	for _, tn := range o.Tenders() {
		if tn.Payment == nil || tn.Payment.PaymentIntentID == "" || !tn.Counts() || tn.Payment.Failed {
			continue
		}
		if tn.Payment.Status == order.PaymentCanceled {
			continue
		}
		l.Counting = append(l.Counting, tn.Payment.PaymentIntentID)
		if a, err := tn.Amount.StripeAmount(); err == nil {
			l.Amount += a
		}
	}
	if o.VoidedAfterPayment() {
		l.Status = string(order.StatusVoided)
		l.Counting = nil
	}
	return l
}

// PlanDay builds the end-of-day plan for the local day of day: every
// PaymentIntent the service created that day (ceil(N/100) list calls),
// matched to the lane's orders, plus what the till itself holds open.
// The errors wrap ui.ErrOffline when the service cannot be reached.
func (t *Till) PlanDay(ctx context.Context, day time.Time) (DayPlan, error) {
	d, from, to := t.dayBounds(day)
	dp := DayPlan{Day: d, From: from, To: to, currency: t.catalog.Currency()}
	fetched, err := reconcile.Fetch(ctx, t.client, from, to)
	if err != nil {
		if c := api.ClassOf(err); c == api.Transient || c == api.Indeterminate {
			err = fmt.Errorf("%w: %w", ui.ErrOffline, err)
		}
		return dp, fmt.Errorf("end of day %s: %w", d, err)
	}
	dp.Pages = fetched.Pages
	now := t.now()
	in := reconcile.Input{Lane: t.lane.Name(), Intents: fetched.Intents, Queued: map[string]string{}, Now: now}
	var extra []reconcile.Row
	err = t.store.View(func(tx *queue.Tx) error {
		locals := map[string]reconcile.Local{}
		orders := map[string]*order.Order{} // nil: no such sale here
		for _, pi := range fetched.Intents {
			if pi == nil || pi.Metadata[reconcile.MetaLane] != t.lane.Name() {
				continue
			}
			id := pi.Metadata[reconcile.MetaOrderID]
			o, seen := orders[id]
			if !seen && id != "" && !isEndOfDayRecord(id) {
				var err error
				o, err = loadOrder(tx, id, t.now)
				if errors.Is(err, queue.ErrNotFound) || errors.Is(err, queue.ErrInvalid) {
					o, err = nil, nil
				}
				if err != nil {
					return fmt.Errorf("read order %s: %w", id, err)
				}
				orders[id] = o
				if o != nil {
					locals[id] = localOf(o)
				}
			}
			// A PaymentIntent made by forwarding an offline payment whose
			// answer is not recorded yet belongs to its sale: the outbox
			// records it (and captures it) when the forwarding's retry
			// finds it. The end of day leaves it alone meanwhile.
			if o == nil || !o.Status().Final() || pi.Metadata[refKey] == "" {
				continue
			}
			if tn, ok := offlineTender(o, pi.Metadata[refKey]); ok && tn.Payment.PaymentIntentID == "" && len(tn.Payment.Stored) > 0 {
				in.Queued[pi.ID] = "forward"
			}
		}
		in.Order = func(id string) (reconcile.Local, bool) { l, ok := locals[id]; return l, ok }
		if err := t.forEachDayOrder(tx, from, to, func(o *order.Order) error {
			if l := localOf(o); o.Status() == order.StatusCompleted && len(l.Counting) > 0 {
				in.Completed = append(in.Completed, l)
			}
			return nil
		}); err != nil {
			return err
		}
		var err error
		extra, err = t.localRows(tx, in.Queued, fetched.Intents, now)
		return err
	})
	if err != nil {
		return dp, fmt.Errorf("end of day %s: %w", d, err)
	}
	dp.Plan = reconcile.Make(in)
	dp.Plan.Rows = append(dp.Plan.Rows, extra...)
	reconcile.SortRows(dp.Plan.Rows)
	return dp, nil
}

// localRows lists what the till holds open, for the plan: outbox entries
// pending and dead (filling queued with the captures and cancels already
// on their way), payments stored offline, payments failed after their
// sale, and uncaptured authorisations of earlier days close to expiry.
func (t *Till) localRows(tx *queue.Tx, queued map[string]string, fetched []*stripe.PaymentIntent, now time.Time) ([]reconcile.Row, error) {
	var rows []reconcile.Row
	entryRow := func(kind reconcile.Kind, e queue.Entry) reconcile.Row {
		p, _ := decodePayload(e.Payload)
		reason := fmt.Sprintf("%s of order %s %s since %s after %d attempts", e.Op, e.OrderID, e.State, e.Created.Format(time.RFC3339), e.Attempts)
		if e.LastError != "" {
			reason += ": " + e.LastError
		}
		return reconcile.Row{Kind: kind, OrderID: e.OrderID, PaymentIntent: p.PaymentIntent, Created: e.Created, Entry: e.Seq, Reason: reason}
	}
	err := tx.ForEachPending(func(e queue.Entry) error {
		if pi, ok := settles(e); ok {
			queued[pi] = e.Op.String()
		}
		rows = append(rows, entryRow(reconcile.OutboxPending, e))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := tx.ForEachDead(func(e queue.Entry) error {
		rows = append(rows, entryRow(reconcile.OutboxDead, e))
		return nil
	}); err != nil {
		return nil, err
	}
	stored, err := storedList.load(tx)
	if err != nil {
		return nil, err
	}
	for _, s := range stored {
		a, _ := s.Amount.StripeAmount()
		rows = append(rows, reconcile.Row{Kind: reconcile.OfflineUnforwarded, OrderID: s.Order, Amount: a,
			Currency: s.Amount.Currency.StripeCode(), Created: s.At,
			Reason: "card payment taken offline at " + s.At.Format(time.RFC3339) + ", not yet forwarded to the payment service"})
	}
	att, err := attentionList.load(tx)
	if err != nil {
		return nil, err
	}
	for _, a := range att {
		amt, _ := a.Amount.StripeAmount()
		what := "payment failed after the sale"
		if a.Kind == reconcile.ForwardDeclined {
			what = "offline card payment declined when forwarded"
		}
		rows = append(rows, reconcile.Row{Kind: a.Kind, OrderID: a.Order, PaymentIntent: a.PaymentIntent, Amount: amt,
			Currency: a.Amount.Currency.StripeCode(), Created: a.At, Reason: what + ": " + a.Reason + "; the sale is unpaid"})
	}
	auths, err := authList.load(tx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, pi := range fetched {
		if pi != nil {
			seen[pi.ID] = true
		}
	}
	for _, a := range auths {
		if seen[a.PaymentIntent] || a.CaptureBefore.Sub(now) >= reconcile.DefaultNearExpiry {
			continue // today's are in the plan already
		}
		amt, _ := a.Amount.StripeAmount()
		rows = append(rows, reconcile.Row{Kind: reconcile.NearExpiry, OrderID: a.Order, PaymentIntent: a.PaymentIntent,
			Amount: amt, Currency: a.Amount.Currency.StripeCode(), CaptureBefore: a.CaptureBefore, NearExpiry: true,
			Reason: "authorisation of an earlier day lapses at " + a.CaptureBefore.Format(time.RFC3339) + ": run that day's end of day"})
	}
	return rows, nil
}

// DayResult is how an applied end of day's actions ended.
type DayResult struct {
	Enqueued int `json:"enqueued"` // actions this apply enqueued
	Skipped  int `json:"skipped"`  // actions already queued or done before
	Done     int `json:"done"`
	Failed   int `json:"failed"`
	Waiting  int `json:"waiting"` // still in the outbox when the wait ended
}

// ApplyDay enqueues the plan's captures and cancellations in one
// transaction with the day's end-of-day record, then waits until the
// outbox has sent them all (the drainer must be running), calling
// progress as they finish. Actions already queued or done by an earlier
// end of day are not enqueued again. When ctx ends first, what is queued
// carries on by itself and the result says how many still wait.
func (t *Till) ApplyDay(ctx context.Context, dp DayPlan, progress func(done, total int)) (DayResult, error) {
	var res DayResult
	var seqs []uint64
	recID := endOfDayRecordID(t.lane.Name(), dp.Day)
	err := t.store.Update(func(tx *queue.Tx) error {
		rec, err := loadEndOfDay(tx, recID)
		if err != nil {
			return err
		}
		rec.Lane, rec.Day = t.lane.Name(), dp.Day
		busy, err := actedOn(tx, rec)
		if err != nil {
			return err
		}
		stored := false
		for _, row := range dp.Plan.Rows {
			if row.Action == "" || row.PaymentIntent == "" {
				continue
			}
			if busy[row.PaymentIntent] {
				res.Skipped++
				continue
			}
			if changed, err := rowStale(tx, row, t.now); err != nil {
				return err
			} else if changed {
				res.Skipped++
				continue
			}
			owner := row.OrderID
			if b, err := tx.Order(owner); err != nil || b == nil || isEndOfDayRecord(owner) {
				// No sale of this till: the record owns the entry.
				owner = recID
				if !stored {
					if err := putEndOfDay(tx, recID, rec); err != nil {
						return err
					}
					stored = true
				}
			}
			v := url.Values{}
			op := queue.OpCancel
			if row.Action == "capture" {
				op = queue.OpCapture
				v.Set("amount_to_capture", strconv.FormatInt(row.Amount, 10))
			} else {
				v.Set("cancellation_reason", row.CancellationReason)
			}
			e, err := tx.Enqueue(queue.NewEntry{OrderID: owner, Op: op,
				Payload: encodePayload(opPayload{PaymentIntent: row.PaymentIntent, Form: v.Encode(), Release: op == queue.OpCancel})})
			if err != nil {
				return err
			}
			busy[row.PaymentIntent] = true
			rec.Actions = append(rec.Actions, eodAction{Row: row, Owner: owner, Entry: e.Seq, At: t.now().UTC()})
			seqs = append(seqs, e.Seq)
			res.Enqueued++
		}
		if res.Enqueued == 0 {
			return nil
		}
		return putEndOfDay(tx, recID, rec)
	})
	if err != nil {
		return res, fmt.Errorf("apply end of day %s: %w", dp.Day, err)
	}
	total := len(seqs)
	if progress != nil {
		progress(0, total)
	}
	// The entries still to finish, in enqueue order. The outbox sends
	// them roughly in that order, so each check looks at the front of
	// the list only (a window), dropping those finished: checking all of
	// them after every store change would cost N² lookups for N actions.
	remaining := slices.Clone(seqs)
	const window = 64
	last := -1
	werr := t.waitUntil(ctx, "end of day "+dp.Day, func() (bool, error) {
		err := t.store.View(func(tx *queue.Tx) error {
			kept, unfinished := remaining[:0], 0
			for i, s := range remaining {
				if unfinished >= window {
					kept = append(kept, remaining[i:]...)
					break
				}
				e, err := tx.Entry(s)
				if err != nil {
					return err
				}
				switch e.State {
				case queue.StateDone:
					res.Done++
				case queue.StateDead, queue.StateDiscarded:
					res.Failed++
				default:
					unfinished++
					kept = append(kept, s)
				}
			}
			remaining = kept
			return nil
		})
		if err != nil {
			return false, err
		}
		res.Waiting = len(remaining)
		if progress != nil && total-res.Waiting != last {
			last = total - res.Waiting
			progress(last, total)
		}
		return res.Waiting == 0, nil
	})
	if werr != nil {
		return res, fmt.Errorf("apply end of day %s: %d of %d actions still in the outbox: %w", dp.Day, res.Waiting, total, werr)
	}
	return res, nil
}

// rowStale says whether a plan's action no longer fits its sale as it
// is now (the plan was read a while ago): a cancel of a payment the sale
// counts, a capture of one it does not, or a sale still being paid.
func rowStale(tx *queue.Tx, row reconcile.Row, now func() time.Time) (bool, error) {
	o, err := loadOrder(tx, row.OrderID, now)
	if errors.Is(err, queue.ErrNotFound) || errors.Is(err, queue.ErrInvalid) || isEndOfDayRecord(row.OrderID) {
		return row.Action != "cancel", nil // no sale: only a cancel fits
	}
	if err != nil {
		return false, err
	}
	if !o.Status().Final() {
		return true, nil
	}
	for _, tn := range o.Tenders() {
		if tn.Payment != nil && (tn.Payment.Forwarding() || len(tn.Payment.Stored) > 0) {
			return true, nil // its forwarding is not recorded yet
		}
	}
	counts := slices.Contains(localOf(o).Counting, row.PaymentIntent)
	return counts != (row.Action == "capture"), nil
}

// settles names the PaymentIntent a capture or cancel entry settles.
func settles(e queue.Entry) (pi string, ok bool) {
	if e.Op != queue.OpCapture && e.Op != queue.OpCancel {
		return "", false
	}
	p, err := decodePayload(e.Payload)
	return p.PaymentIntent, err == nil && p.PaymentIntent != ""
}

// actedOn are the PaymentIntents an end of day must not act on again:
// those with a capture or cancel in the outbox or among the day's dead
// letters, and those the day's record acted on successfully.
func actedOn(tx *queue.Tx, rec endOfDayRecord) (map[string]bool, error) {
	busy := map[string]bool{}
	if err := tx.ForEachPending(func(e queue.Entry) error {
		if pi, ok := settles(e); ok {
			busy[pi] = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, a := range rec.Actions {
		e, err := tx.Entry(a.Entry)
		if err != nil {
			return nil, err
		}
		if e.State != queue.StateDiscarded {
			busy[a.Row.PaymentIntent] = true
		}
	}
	return busy, nil
}

func loadEndOfDay(tx *queue.Tx, id string) (endOfDayRecord, error) {
	var rec endOfDayRecord
	b, err := tx.Order(id)
	if errors.Is(err, queue.ErrNotFound) {
		return rec, nil
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("read end of day record %s: %w", id, err)
	}
	return rec, nil
}

func putEndOfDay(tx *queue.Tx, id string, rec endOfDayRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("write end of day record %s: %w", id, err)
	}
	return tx.PutOrder(id, b)
}

// dayActions are the day's end-of-day actions as the outbox left them.
func (t *Till) dayActions(tx *queue.Tx, day string) (done, failed []eodAction, err error) {
	rec, err := loadEndOfDay(tx, endOfDayRecordID(t.lane.Name(), day))
	if err != nil {
		return nil, nil, err
	}
	for _, a := range rec.Actions {
		e, err := tx.Entry(a.Entry)
		if err != nil {
			return nil, nil, err
		}
		switch e.State {
		case queue.StateDone:
			done = append(done, a)
		case queue.StateDead, queue.StateDiscarded:
			failed = append(failed, a)
		}
	}
	return done, failed, nil
}

// rowMoney is a row's amount as money in the till's currency when the row
// names none.
func rowMoney(r reconcile.Row, fallback money.Currency) money.Money {
	cur := fallback
	if r.Currency != "" {
		if c, err := money.ParseCurrency(strings.ToUpper(r.Currency)); err == nil {
			cur = c
		}
	}
	m, err := money.FromStripeAmount(r.Amount, cur)
	if err != nil {
		return money.Zero(cur)
	}
	return m
}
