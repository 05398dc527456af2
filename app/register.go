package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2/lang"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/ui"
)

// Register is the cashier's side of a Till: the sale being rung up, its
// card payment on the reader, the reader's customer display and the
// status bar. It implements ui.Register; every rule lives here, and the
// screen only shows what Sale returns.
//
// The current sale is an order in the store from its first line on, so a
// crash or a restart loses no cart: NewRegister picks the lane's unfinished
// sale up again. Its state is always read back from the store, where the
// outbox drainer records what the payment API answered.
type Register struct {
	t *Till

	mu   sync.Mutex
	id   string      // the current sale; "" before its first line
	card ui.CardView // the card payment's progress, in ui.StageCard
	run  *cardRun    // the payment worker; nil when none runs
	// runKind is what the worker does: collect a card, charge a saved
	// method, or follow a wallet payment.
	runKind runKind
	ended   bool // Close was called
	// found are the customers of the last search, for SetCustomer.
	found []ui.CustomerView

	kick  chan struct{} // a customer-display refresh is due
	stale atomic.Bool   // the till wrote the customer display behind the loop
	stop  context.CancelFunc
	done  chan struct{}
}

// cardRun is one run of the card worker for the current sale.
type cardRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Customer display timing: cart changes are sent to the reader at most
// this often, the last one always.
const displayDebounce = 150 * time.Millisecond

// Errors of the register the cashier sees as they are.
var (
	// ErrCardInProgress: the cart cannot change, or another tender be
	// taken, while a card is being processed.
	ErrCardInProgress = errors.New("a card payment is being processed: wait for its result")
	// ErrSaleFinished: the sale is paid or voided; start a new one.
	ErrSaleFinished = errors.New("this sale is finished: start a new sale")
	// ErrImplausibleCash: the cash typed is far more than any customer
	// hands over (a barcode scanned into the cash field, a slip).
	ErrImplausibleCash = errors.New("that much cash is not plausible; check the amount")
)

// NewRegister opens the register on the till, resuming the lane's
// unfinished sale if there is one, and starts its customer display. Close
// it before the till.
func (t *Till) NewRegister() (*Register, error) {
	r := &Register{t: t, kick: make(chan struct{}, 1), done: make(chan struct{})}
	id, err := t.unfinishedSale()
	if err != nil {
		return nil, fmt.Errorf("open the register: %w", err)
	}
	r.id = id
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	t.attachRegister(r.readerActivity, r.displayWritten)
	// The outbox settles sales too (an approval the worker no longer
	// watched): every store change may change what the customer sees.
	t.Subscribe(r.kickDisplay)
	go r.displayLoop(ctx)
	r.kickDisplay()
	if id != "" {
		if o, err := t.Order(id); err == nil && o.Status() == order.StatusTendering {
			// A payment was under way when the till stopped: carry on.
			r.mu.Lock()
			r.resumeLocked(o)
			r.mu.Unlock()
		}
	}
	return r, nil
}

// resumeLocked starts the worker a tendering sale's payment needs: follow
// a wallet, wait for a saved method's charge, or collect a card; r.mu is
// held.
func (r *Register) resumeLocked(o *order.Order) {
	x := r.t.entriesOf(o.ID())
	_, _, wallet := currentWallet(o)
	if _, queued := walletQueued(x.es); wallet || queued {
		r.startFollowLocked()
		return
	}
	c, ok := CurrentPayment(o)
	if ok && c.Payment.SavedMethod != "" || !ok && x.any(savedCreate) {
		r.startRunLocked(runSaved, r.savedFlow)
		return
	}
	r.startCardLocked()
}

// Close stops the register's card worker and customer display.
func (r *Register) Close() {
	r.mu.Lock()
	r.ended = true
	run := r.run
	r.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
	r.stop()
	<-r.done
	r.t.attachRegister(nil, nil)
}

// unfinishedSale finds the lane's newest order that is still open or
// tendering, among the most recent ones.
func (t *Till) unfinishedSale() (string, error) {
	const lookBack = 50
	var found string
	err := t.store.View(func(tx *queue.Tx) error {
		n := 0
		return t.forEachLaneOrderReverse(tx, func(id string, data []byte) error {
			if n++; n > lookBack {
				return errStop
			}
			o, err := order.Unmarshal(data, t.now)
			if err != nil {
				return nil // shown on the status screen; not a sale to resume
			}
			if !o.Status().Final() {
				found = id
				return errStop
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, errStop) {
		return "", err
	}
	return found, nil
}

// forEachLaneOrderReverse walks this lane's orders, newest first (order
// ids are the lane, "-" and a ULID).
func (t *Till) forEachLaneOrderReverse(tx *queue.Tx, fn func(id string, data []byte) error) error {
	prefix := t.lane.Name() + "-"
	end := t.lane.Name() + string(rune('-'+1)) // just after every "lane-…" id
	return tx.ForEachOrderReverse(end, func(id string, data []byte) error {
		if !strings.HasPrefix(id, prefix) {
			return errStop
		}
		return fn(id, data)
	})
}

// Subscribe implements ui.Register.
func (r *Register) Subscribe(fn func()) { r.t.Subscribe(fn) }

// Categories implements ui.Register.
func (r *Register) Categories() []string { return r.t.catalog.Categories() }

// Products implements ui.Register.
func (r *Register) Products(category string) []ui.ProductView {
	return r.productViews(r.t.catalog.InCategory(category))
}

// Search implements ui.Register.
func (r *Register) Search(query string) []ui.ProductView {
	return r.productViews(r.t.catalog.Search(query))
}

func (r *Register) productViews(ps []catalog.Product) []ui.ProductView {
	out := make([]ui.ProductView, len(ps))
	for i, p := range ps {
		out[i] = ui.ProductView{SKU: p.SKU, Name: p.Name, Price: r.format(p.Price), Category: p.Category}
	}
	return out
}

func (r *Register) format(m money.Money) string { return m.Format(r.t.locale) }

// current returns the current sale's id and its stored order (nil before
// the first line).
func (r *Register) current() (string, *order.Order, error) {
	r.mu.Lock()
	id := r.id
	r.mu.Unlock()
	if id == "" {
		return "", nil, nil
	}
	o, err := r.t.Order(id)
	return id, o, err
}

// editCart applies change to the current sale's cart in one transaction,
// creating the sale on its first line.
func (r *Register) editCart(op string, change func(o *order.Order) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	var o *order.Order
	err := r.t.store.Update(func(tx *queue.Tx) error {
		if r.id == "" {
			var err error
			if o, err = r.t.lane.NewOrder(); err != nil {
				return err
			}
		} else {
			var err error
			if o, err = loadOrder(tx, r.id, r.t.now); err != nil {
				return err
			}
		}
		switch o.Status() {
		case order.StatusTendering:
			return ErrCardInProgress
		case order.StatusCompleted, order.StatusVoided:
			return ErrSaleFinished
		}
		if err := change(o); err != nil {
			return err
		}
		return putOrder(tx, o)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	r.id = o.ID()
	r.kickDisplay()
	return nil
}

// Add implements ui.Register.
func (r *Register) Add(sku string) error {
	p, ok := r.t.catalog.BySKU(sku)
	if !ok {
		return fmt.Errorf("add %q: %w", sku, ui.ErrUnknownCode)
	}
	return r.addProduct(p)
}

// Scan implements ui.Register: a barcode (GS1) or a SKU.
func (r *Register) Scan(code string) error {
	code = strings.TrimSpace(code)
	if code == "" {
		return nil
	}
	p, ok := r.t.catalog.Lookup(code)
	if !ok {
		return fmt.Errorf("%w: %q", ui.ErrUnknownCode, code)
	}
	return r.addProduct(p)
}

func (r *Register) addProduct(p catalog.Product) error {
	return r.editCart("add "+p.Name, func(o *order.Order) error {
		_, err := o.AddProduct(p, 1)
		return err
	})
}

// SetQuantity implements ui.Register; a quantity below 1 removes the line.
func (r *Register) SetQuantity(lineID int, qty int64) error {
	if qty < 1 {
		return r.Remove(lineID)
	}
	return r.editCart("change quantity", func(o *order.Order) error { return o.SetQuantity(lineID, qty) })
}

// Remove implements ui.Register.
func (r *Register) Remove(lineID int) error {
	return r.editCart("remove line", func(o *order.Order) error { return o.RemoveLine(lineID) })
}

// SetLineDiscount implements ui.Register.
func (r *Register) SetLineDiscount(lineID int, input, pin string) error {
	return r.discount("discount line", input, pin, func(o *order.Order) (money.Money, error) {
		for i, l := range o.Lines() {
			if l.ID == lineID {
				return o.Totals().Lines[i].Subtotal, nil
			}
		}
		return money.Money{}, fmt.Errorf("line %d: %w", lineID, order.ErrNoSuchLine)
	}, func(o *order.Order, d order.Discount) error { return o.SetLineDiscount(lineID, d) })
}

// SetCartDiscount implements ui.Register.
func (r *Register) SetCartDiscount(input, pin string) error {
	return r.discount("discount cart", input, pin, func(o *order.Order) (money.Money, error) {
		ts := o.Totals()
		return ts.Subtotal.Sub(ts.LineDiscounts)
	}, func(o *order.Order, d order.Discount) error { return o.SetCartDiscount(d) })
}

// discount parses and applies a discount, asking for the manager's PIN
// when it takes more than the threshold off its base.
func (r *Register) discount(op, input, pin string, base func(*order.Order) (money.Money, error), apply func(*order.Order, order.Discount) error) error {
	d, err := r.parseDiscount(input)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	checked := false
	for {
		needPIN := false
		err := r.editCart(op, func(o *order.Order) error {
			b, err := base(o)
			if err != nil {
				return err
			}
			if !checked && r.overThreshold(d, b) {
				needPIN = true
				return nil
			}
			return apply(o, d)
		})
		if err != nil || !needPIN {
			return err
		}
		if pin == "" {
			return fmt.Errorf("%s: a discount over %d %%: %w", op, r.t.cfg.ManagerDiscountPercent, ui.ErrManagerPIN)
		}
		// The slow hash runs outside the store's lock.
		if err := r.t.checkManagerPIN(pin); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		checked = true
	}
}

// parseDiscount reads "10%", "10 %", "12.5%" or an amount in the till's
// currency; "" and "0" mean no discount.
func (r *Register) parseDiscount(s string) (order.Discount, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return order.Discount{}, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		bp, err := parsePercent(strings.TrimSpace(pct))
		if err != nil {
			return order.Discount{}, fmt.Errorf("discount %q: %w", s, err)
		}
		return order.PercentOff(bp), nil
	}
	m, err := money.Parse(s, r.t.catalog.Currency(), r.t.locale)
	if err != nil {
		return order.Discount{}, fmt.Errorf("discount %q: %w", s, err)
	}
	if m.Amount == 0 {
		return order.Discount{}, nil
	}
	return order.AmountOff(m), nil
}

// parsePercent reads a percentage with at most two decimals ("12.5",
// "12,5") as basis points.
func parsePercent(s string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", "."), ".")
	if len(frac) > 2 || whole == "" && frac == "" {
		return 0, fmt.Errorf("%q is not a percentage with at most two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	n, err := strconv.ParseUint(whole+frac, 10, 32)
	if err != nil || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	if n == 0 || n > 10000 {
		return 0, fmt.Errorf("%s %% is not between 0 and 100", s)
	}
	return int64(n), nil
}

// overThreshold says whether d takes more than the manager threshold off
// base.
func (r *Register) overThreshold(d order.Discount, base money.Money) bool {
	limit := int64(r.t.cfg.ManagerDiscountPercent) * 100 // basis points
	switch d.Kind {
	case order.DiscountPercent:
		return d.BasisPoints > limit
	case order.DiscountAmount:
		// amount/base > limit/10000, without overflow for any real till.
		return base.Amount <= 0 || d.Amount.Amount*10000 > base.Amount*limit
	}
	return false
}

// ChargeCard implements ui.Register: the order and its PaymentIntent
// creation are committed together, then the card worker takes over.
func (r *Register) ChargeCard() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return fmt.Errorf("charge card: %w", ErrClosed)
	}
	if r.id == "" {
		return fmt.Errorf("charge card: %w", ErrEmptyCart)
	}
	if r.run != nil && r.runKind != runFollow {
		return fmt.Errorf("charge card: %w", ErrCardInProgress)
	}
	r.stopCardLocked() // a wallet's follower: the card takes over
	o, err := r.t.Order(r.id)
	if err != nil {
		return fmt.Errorf("charge card: %w", err)
	}
	c, isCard := CurrentCard(o)
	switch o.Status() {
	case order.StatusOpen:
		if isCard && c.Payment.Status == order.PaymentRequiresPaymentMethod {
			// Back from a changed cart: the same PaymentIntent, updated.
			if err := r.t.chargeAgain(o.ID()); err != nil {
				return err
			}
		} else if err := r.t.startPayment(o.ID(), r.t.cardStart()); err != nil {
			return fmt.Errorf("charge card: %w", err)
		}
	case order.StatusTendering:
		if !isCard {
			// A wallet that failed: its PaymentIntent is cancelled and a
			// card payment takes its place.
			if err := r.t.startPayment(o.ID(), r.t.cardStart()); err != nil {
				return fmt.Errorf("charge card: %w", err)
			}
		} else if err := r.moveToReader(); err != nil { // collect again
			return fmt.Errorf("charge card: %w", err)
		}
	default:
		return fmt.Errorf("charge card: %w", ErrSaleFinished)
	}
	r.startCardLocked()
	return nil
}

// moveToReader puts a saved card's payment on the reader (see toReader).
func (r *Register) moveToReader() error {
	return r.t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, r.id, r.t.now)
		if err != nil {
			return err
		}
		if o.Status() != order.StatusTendering {
			return fmt.Errorf("the sale is %s", o.Status())
		}
		return r.t.toReader(tx, o)
	})
}

// RetryCard implements ui.Register: another card on the same payment.
func (r *Register) RetryCard() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return fmt.Errorf("retry card: %w", ErrClosed)
	}
	if r.run != nil && r.runKind != runFollow {
		return fmt.Errorf("retry card: %w", ErrCardInProgress)
	}
	r.stopCardLocked()
	if r.id == "" {
		return fmt.Errorf("retry card: %w", ErrEmptyCart)
	}
	o, err := r.t.Order(r.id)
	if err != nil {
		return fmt.Errorf("retry card: %w", err)
	}
	if o.Status() != order.StatusTendering {
		return fmt.Errorf("retry card: the sale is %s, not waiting for a card", o.Status())
	}
	if _, ok := CurrentCard(o); !ok {
		return fmt.Errorf("retry card: the sale's payment is not a card")
	}
	if err := r.moveToReader(); err != nil {
		return fmt.Errorf("retry card: %w", err)
	}
	r.startCardLocked()
	return nil
}

// CancelCard implements ui.Register: the cashier stops the collection.
func (r *Register) CancelCard() error {
	r.mu.Lock()
	run := r.run
	r.mu.Unlock()
	if run == nil {
		return nil
	}
	run.cancel()
	<-run.done
	return nil
}

// runKind is what a payment worker does.
type runKind int

const (
	runCard   runKind = iota // collect a card on the reader
	runSaved                 // charge a returning customer's saved method
	runFollow                // follow a wallet payment
)

// startCardLocked starts the card worker; r.mu is held.
func (r *Register) startCardLocked() { r.startRunLocked(runCard, r.cardFlow) }

// startRunLocked starts a payment worker running flow; r.mu is held.
func (r *Register) startRunLocked(kind runKind, flow func(context.Context, string) (ui.CardStep, string)) {
	ctx, cancel := context.WithCancel(context.Background())
	run := &cardRun{cancel: cancel, done: make(chan struct{})}
	r.run, r.runKind = run, kind
	r.card = ui.CardView{Step: ui.CardCreating, Message: lang.L("Setting up the payment…")}
	id := r.id
	go func() {
		defer close(run.done)
		step, msg := flow(ctx, id)
		r.mu.Lock()
		if r.run == run {
			r.run = nil
		}
		r.card = ui.CardView{Step: step, Message: msg}
		r.mu.Unlock()
		r.kickDisplay()
		r.t.notify()
	}()
	r.t.notify()
}

// setStep reports card progress.
func (r *Register) setStep(step ui.CardStep, msg string) {
	r.mu.Lock()
	changed := r.card.Step != step || r.card.Message != msg
	r.card = ui.CardView{Step: step, Message: msg}
	r.mu.Unlock()
	if changed {
		r.t.notify()
	}
}

// cardFlow is the card sale of SPEC §2.1 from the till's side, for one
// card: wait for the PaymentIntent (the outbox creates it), collect a card
// on the reader, and wait for the outbox to process it. It returns the step
// the payment ends on when it needs the cashier; an approved card completes
// the order (the executor does, with its capture), which Sale shows.
func (r *Register) cardFlow(ctx context.Context, id string) (ui.CardStep, string) {
	t := r.t
	// 0. A card already being authorised (a resumed sale): its outcome
	// first, as for a card collected here.
	if o, err := t.Order(id); err == nil {
		if c, ok := CurrentCard(o); ok && c.Payment.Status == order.PaymentRequiresConfirmation {
			return r.cardResult(ctx, id)
		}
	}
	// 1. The PaymentIntent exists and waits for a card — or the payment
	// service is out of reach and the card can be taken offline.
	offline := false
	o, err := t.WaitOrder(ctx, id, func(o *order.Order) bool {
		if o.Status() != order.StatusTendering {
			return true
		}
		if c, ok := CurrentCard(o); ok && c.Payment.Status == order.PaymentRequiresPaymentMethod && !t.queuedOp(id, queue.OpUpdate) {
			return true // and its update (a new amount, or to the reader) is through
		}
		if t.online() {
			r.setStep(ui.CardCreating, lang.L("Setting up the payment…"))
			return false
		}
		_, err := t.offlineTurn(id)
		if err == nil {
			offline = true
			return true
		}
		msg, refused := OfflineReason(err)
		if !refused {
			msg = lang.L("The card payment carries on by itself when the connection returns.")
		}
		r.setStep(ui.CardOffline, msg)
		return false
	})
	switch {
	case ctx.Err() != nil:
		return ui.CardCancelled, lang.L("Card payment cancelled.")
	case err != nil:
		return ui.CardReaderProblem, err.Error()
	case o.Status() != order.StatusTendering:
		return ui.CardProcessing, "" // finished meanwhile; Sale shows how
	}
	if offline {
		// 2'. Store and forward: the reader takes the card for deferred
		// authorisation and the sale completes; the outbox forwards it.
		r.setStep(ui.CardCreating, lang.L("Offline: present the card on the reader."))
		if _, err := t.CollectOffline(ctx, id); err != nil {
			if errors.Is(err, ErrNotReady) || errors.Is(err, ErrBusy) {
				// The connection came back meanwhile: the online way.
				return r.cardFlow(ctx, id)
			}
			if msg, refused := OfflineReason(err); refused {
				return ui.CardOffline, msg
			}
			return cardProblem(err)
		}
		return ui.CardProcessing, ""
	}
	// 2. The reader collects a card (readerActivity follows it); the card
	// is handed to the API and its confirmation enqueued.
	r.setStep(ui.CardCreating, lang.L("Starting the card reader…"))
	if _, err := t.CollectCard(ctx, id); err != nil {
		return cardProblem(err)
	}

	return r.cardResult(ctx, id)
}

// cardResult is step 3 of cardFlow: the outbox confirms the card, approved
// (the order completes) or declined.
func (r *Register) cardResult(ctx context.Context, id string) (ui.CardStep, string) {
	r.setStep(ui.CardProcessing, lang.L("Authorising…"))
	o, err := r.t.WaitOrder(ctx, id, func(o *order.Order) bool { settled, _ := CardOutcome(o); return settled })
	switch {
	case ctx.Err() != nil:
		// The confirmation is in the outbox and carries on; the cashier
		// only stopped watching.
		return ui.CardProcessing, lang.L("Authorising…")
	case err != nil:
		return ui.CardReaderProblem, err.Error()
	}
	if _, decline := CardOutcome(o); decline != nil {
		return ui.CardDeclined, declineMessage(decline)
	}
	return ui.CardProcessing, ""
}

// cardProblem is the step and message for a collection that did not give
// a card.
func cardProblem(err error) (ui.CardStep, string) {
	switch {
	case errors.Is(err, reader.ErrCustomerCancelled):
		return ui.CardCancelled, lang.L("The customer cancelled on the reader.")
	case errors.Is(err, reader.ErrCollectCanceled), errors.Is(err, context.Canceled):
		return ui.CardCancelled, lang.L("Card payment cancelled.")
	case errors.Is(err, reader.ErrCollectTimeout):
		return ui.CardCancelled, lang.L("No card was presented in time.")
	case errors.Is(err, reader.ErrProcessWindow):
		return ui.CardCancelled, lang.L("The card could not be processed in time; present it again.")
	case errors.Is(err, reader.ErrNotConnected), errors.Is(err, reader.ErrDisconnected),
		errors.Is(err, reader.ErrNoResponse), errors.Is(err, reader.ErrNoReader):
		return ui.CardReaderProblem, lang.L("The card reader is not connected. Check its cable, then try again.") + " (" + err.Error() + ")"
	case api.ClassOf(err) == api.Transient || api.ClassOf(err) == api.Indeterminate:
		return ui.CardOffline, lang.L("The payment service did not answer. Try again, or take cash.")
	}
	var de *reader.DeviceError
	if errors.As(err, &de) {
		return ui.CardReaderProblem, lang.L("The card reader reported a problem:") + " " + de.Error()
	}
	return ui.CardReaderProblem, err.Error()
}

// declineMessage is what the cashier reads after a decline.
func declineMessage(d *order.Decline) string {
	reason := map[string]string{
		"insufficient_funds": lang.L("insufficient funds"),
		"expired_card":       lang.L("the card has expired"),
		"processing_error":   lang.L("a processing error; the same card may work on a second try"),
		"generic_decline":    lang.L("declined by the bank"),
		"card_declined":      lang.L("declined by the bank"),
		"incorrect_pin":      lang.L("wrong PIN"),
		"lost_card":          lang.L("the card is reported lost"),
		"stolen_card":        lang.L("the card is reported stolen"),
	}[d.Code]
	if reason == "" {
		reason = d.Code
	}
	return lang.L("Card declined: {{.Reason}}. Try another card, or take cash.", map[string]any{"Reason": reason})
}

// PayCash implements ui.Register. A card payment that is not authorised is
// cancelled in the same transaction (through the outbox); one being
// processed must finish first.
func (r *Register) PayCash(given string) error {
	g, err := r.parseCash(given)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return fmt.Errorf("pay cash: %w", ErrClosed)
	}
	if r.id == "" {
		return fmt.Errorf("pay cash: %w", ErrEmptyCart)
	}
	// A refused payment changes nothing: check the cash covers what is
	// due before the card collection is stopped.
	o, err := r.t.Order(r.id)
	if err != nil {
		return fmt.Errorf("pay cash: %w", err)
	}
	if due, err := o.CashDue(r.t.cash); err == nil && g.Amount < due.Amount {
		return fmt.Errorf("pay cash: %v given, %v due: %w", g, due, order.ErrUnderpaid)
	}
	r.stopCardLocked()
	err = r.t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, r.id, r.t.now)
		if err != nil {
			return err
		}
		if o.Status().Final() {
			return ErrSaleFinished
		}
		_, err = r.t.payCash(tx, o, g)
		return err
	})
	if err != nil {
		return fmt.Errorf("pay cash: %w", err)
	}
	r.kickDisplay()
	return nil
}

// maxCashOver is how far, in major units, cash given may exceed what is
// due: more is a slip — most often a barcode scanned into the cash field.
const maxCashOver = 1000

// parseCash reads the cash the cashier typed, refusing amounts no customer
// hands over.
func (r *Register) parseCash(given string) (money.Money, error) {
	cur := r.t.catalog.Currency()
	g, err := money.Parse(given, cur, r.t.locale)
	if err != nil {
		return money.Money{}, fmt.Errorf("cash given %q: %w", given, err)
	}
	due := money.Zero(cur)
	if _, o, err := r.current(); err == nil && o != nil {
		if d, err := o.CashDue(r.t.cash); err == nil {
			due = d
		}
	}
	if limit := due.Amount + maxCashOver*cur.Pow10(); g.Amount > limit {
		return money.Money{}, fmt.Errorf("cash given %s is more than %s over the amount due: %w",
			r.format(g), r.format(money.New(maxCashOver*cur.Pow10(), cur)), ErrImplausibleCash)
	}
	return g, nil
}

// ChangeFor implements ui.Register.
func (r *Register) ChangeFor(given string) (string, error) {
	g, err := r.parseCash(given)
	if err != nil {
		return "", err
	}
	_, o, err := r.current()
	if err != nil || o == nil {
		return "", err
	}
	due, err := o.CashDue(r.t.cash)
	if err != nil {
		return "", err
	}
	if g.Amount < due.Amount {
		return "", nil
	}
	change, err := g.Sub(due)
	if err != nil {
		return "", err
	}
	return r.format(change), nil
}

// Void implements ui.Register: the sale is cancelled, with its card
// payment (through the outbox).
func (r *Register) Void() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id == "" {
		return nil // nothing rung up
	}
	r.stopCardLocked()
	err := r.t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, r.id, r.t.now)
		if err != nil {
			return err
		}
		if o.Status().Final() {
			return ErrSaleFinished
		}
		if _, ok := CurrentPayment(o); ok && o.Status() == order.StatusOpen {
			// Back from a changed cart with a card payment waiting.
			if err := o.StartTendering(); err != nil {
				return err
			}
		}
		if o.Status() == order.StatusTendering {
			if err := r.t.dropCard(tx, o); err != nil {
				return err
			}
		}
		if err := o.Void("voided by the cashier"); err != nil {
			return err
		}
		return putOrder(tx, o)
	})
	if err != nil {
		return fmt.Errorf("void: %w", err)
	}
	r.kickDisplay()
	return nil
}

// stopCardLocked stops the card worker and waits for it; r.mu is held
// (the worker takes it only after its flow returned).
func (r *Register) stopCardLocked() {
	run := r.run
	if run == nil {
		return
	}
	run.cancel()
	r.mu.Unlock()
	<-run.done // its epilogue clears r.run
	r.mu.Lock()
}

// dropCard gives up the order's card payment inside tx, for another tender
// or a void: its PaymentIntent is cancelled through the outbox, even one
// whose creation is still queued. A card being processed (confirmation
// queued or in flight) cannot be dropped: its outcome is not known yet.
func (t *Till) dropCard(tx *queue.Tx, o *order.Order) error {
	es, err := tx.OrderEntries(o.ID())
	if err != nil {
		return err
	}
	var deadConfirms []uint64
	for _, e := range es {
		if e.Op == queue.OpCreate && e.State != queue.StateDead {
			// A creation that confirms at once (a saved method) moves
			// money as it lands: its outcome must be known first.
			if p, err := decodePayload(e.Payload); err != nil || p.Saved != "" {
				return ErrCardInProgress
			}
		}
		if e.Op != queue.OpConfirm {
			continue
		}
		if e.State != queue.StateDead {
			return ErrCardInProgress
		}
		deadConfirms = append(deadConfirms, e.Seq)
	}
	// A confirmation the API refused for good is given up with its card:
	// discarded, so the cancel below is not blocked behind it and a
	// requeue can never authorise a card the sale no longer uses.
	for _, seq := range deadConfirms {
		if err := tx.DiscardDead(seq, "the sale was settled without this card"); err != nil {
			return err
		}
	}
	pi := ""
	if c, ok := CurrentPayment(o); ok {
		switch c.Payment.Status {
		case order.PaymentRequiresConfirmation:
			if len(deadConfirms) == 0 {
				return ErrCardInProgress
			}
		case order.PaymentRequiresPaymentMethod:
		default:
			if c.Payment.Status.Secured() {
				return fmt.Errorf("the card payment is already %s", c.Payment.Status)
			}
		}
		pi = c.Payment.PaymentIntentID
		if err := o.SetPaymentStatus(c.ID, order.PaymentCanceled, "", ""); err != nil {
			return err
		}
	} else if !hasQueued(es, queue.OpCreate) {
		return nil // no card payment was ever started
	}
	ref := ""
	if pi == "" {
		// The creation has not answered yet: the cancel finds its
		// PaymentIntent by the creation's ref.
		for _, e := range es {
			if p, err := decodePayload(e.Payload); err == nil && e.Op == queue.OpCreate && e.State != queue.StateDead {
				ref = p.Ref
			}
		}
	}
	_, err = tx.Enqueue(queue.NewEntry{OrderID: o.ID(), Op: queue.OpCancel,
		Payload: encodePayload(opPayload{PaymentIntent: pi, Form: "cancellation_reason=abandoned", Ref: ref})})
	return err
}

// hasQueued says whether an operation is still to be sent for the order.
func hasQueued(es []queue.Entry, op queue.Op) bool {
	for _, e := range es {
		if e.Op == op && e.State != queue.StateDead {
			return true
		}
	}
	return false
}

// BackToCart implements ui.Register: after a decline or a cancellation
// the cashier changes the cart; the next Card updates the same
// PaymentIntent to the new amount and collects again (SPEC §2.1).
func (r *Register) BackToCart() error {
	return r.reopenCart("back to cart", ErrEmptyCart, func(tx *queue.Tx, o *order.Order) error {
		if o.Status() != order.StatusTendering {
			return fmt.Errorf("the sale is %s", o.Status())
		}
		es, err := tx.OrderEntries(o.ID())
		if err != nil {
			return err
		}
		switch c, ok := CurrentPayment(o); {
		case hasQueued(es, queue.OpConfirm) || ok && c.Payment.Status == order.PaymentRequiresConfirmation:
			return ErrCardInProgress
		case !ok && hasQueued(es, queue.OpCreate):
			return errors.New("the card payment is still being set up with the payment service: wait for it, or void the sale")
		}
		return nil
	})
}

// reopenCart stops the payment worker and, in one transaction, lets
// prepare check (and change) the tendering sale before it goes back to
// the cart; noSale is the error when there is no sale at all.
func (r *Register) reopenCart(op string, noSale error, prepare func(*queue.Tx, *order.Order) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id == "" {
		return fmt.Errorf("%s: %w", op, noSale)
	}
	r.stopCardLocked()
	err := r.t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, r.id, r.t.now)
		if err != nil {
			return err
		}
		if err := prepare(tx, o); err != nil {
			return err
		}
		if err := o.BackToCart(); err != nil {
			return err
		}
		return putOrder(tx, o)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	r.card = ui.CardView{}
	r.kickDisplay()
	r.t.notify()
	return nil
}

// NewSale implements ui.Register: after a receipt, the next customer.
func (r *Register) NewSale() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id != "" {
		o, err := r.t.Order(r.id)
		if err != nil {
			return fmt.Errorf("new sale: %w", err)
		}
		if !o.Status().Final() {
			return fmt.Errorf("new sale: the current sale is %s: finish or void it first", o.Status())
		}
	}
	r.id, r.card = "", ui.CardView{}
	r.kickDisplay()
	r.t.notify()
	return nil
}
