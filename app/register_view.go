package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"

	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/sync/drain"
	"github.com/tillpos/till/sync/reconcile"
	"github.com/tillpos/till/ui"
)

// Sale implements ui.Register: the current sale as the screen shows it.
func (r *Register) Sale() ui.SaleView {
	id, o, err := r.current()
	r.mu.Lock()
	card, running, kind := r.card, r.run != nil, r.runKind
	r.mu.Unlock()
	if err != nil {
		return ui.SaleView{OrderID: id, Stage: ui.StageCart, Card: ui.CardView{Message: err.Error()}}
	}
	if o == nil {
		zero := r.format(money.Zero(r.t.catalog.Currency()))
		v := ui.SaleView{Stage: ui.StageCart, CanEdit: true, Subtotal: zero, Tax: zero, Total: zero, CanChooseCustomer: true}
		for _, w := range r.t.walletsOffered() {
			v.Wallets = append(v.Wallets, ui.WalletOption{Kind: string(w.kind), Label: w.label, Why: lang.L("The cart is empty")})
		}
		return v
	}
	v := ui.SaleView{OrderID: o.ID(), Lines: r.lineViews(o)}
	r.fillTotals(o, &v.Subtotal, &v.CartDiscount, &v.Tax, &v.Total, &v.TaxLines)
	v.Paid, v.Due = r.format(o.Paid()), r.format(o.Remaining())
	if due, err := o.CashDue(r.t.cash); err == nil {
		v.CashDue = r.format(due)
	}
	hasLines := len(v.Lines) > 0
	if c := o.Customer(); c != nil {
		v.Customer = &ui.CustomerView{ID: c.ID, Name: c.Name}
		v.SaveCard = c.SaveCard
	}
	switch o.Status() {
	case order.StatusOpen:
		v.Stage = ui.StageCart
		v.CanEdit, v.CanCharge, v.CanPayCash, v.CanVoid = true, hasLines, hasLines, hasLines
		v.Wallets = r.walletOptions(o)
		v.CanChooseCustomer = true
		v.CanChargeSaved = hasLines && v.Customer != nil && r.t.online()
		v.CanSaveCard = v.Customer != nil
	case order.StatusTendering:
		x := r.t.entriesOf(o.ID())
		if x.err != nil {
			r.t.log.Warn("read the order's outbox", "order", o.ID(), "err", x.err)
		}
		if _, _, ok := currentWallet(o); ok || !hasCard(o) {
			if r.walletView(o, x, &v); v.Stage == ui.StageWallet {
				break
			}
		}
		v.Stage = ui.StageCard
		v.Card = card
		if c, ok := CurrentCard(o); ok && c.Payment.Method != "card_present" && c.Payment.Method != "" && (!running || kind != runSaved) {
			// A saved card's charge the worker no longer watches.
			step, msg := savedOutcome(o)
			if msg != "" {
				v.Card = ui.CardView{Step: step, Message: msg}
			}
		}
		v.Card.Amount = v.Due
		processing, refused := cardProcessing(o, x)
		switch _, decline := CardOutcome(o); {
		case processing:
			v.Card = ui.CardView{Step: ui.CardProcessing, Message: lang.L("Authorising…"), Amount: v.Due}
		case refused:
			v.Card = ui.CardView{Step: ui.CardReaderProblem, Message: lang.L("The payment service refused this card payment. Take cash or void the sale; the manager sees why."), Amount: v.Due}
		case !running && decline != nil && card.Step == ui.CardProcessing:
			// The worker stopped watching before the answer came.
			v.Card = ui.CardView{Step: ui.CardDeclined, Message: declineMessage(decline), Amount: v.Due}
		}
		collecting := running && !processing && (card.Step == ui.CardPresent || card.Step == ui.CardReading)
		v.CanCancelCard = collecting || running && card.Step == ui.CardCreating
		_, isCard := CurrentCard(o)
		_, created := CurrentPayment(o)
		v.CanRetryCard = !running && !processing && !refused && (isCard || !created)
		v.CanPayCash, v.CanVoid = !processing, !processing
		v.CanBackToCart = !running && !processing && !refused && created
		if !created && !running && x.err == nil && slices.ContainsFunc(x.es, deadCreate) {
			v.Card = ui.CardView{Step: ui.CardReaderProblem, Amount: v.Due,
				Message: lang.L("The payment service refused this payment. Take another payment or void the sale; the manager sees why.")}
			v.CanRetryCard = false
		}
	case order.StatusCompleted:
		v.Stage = ui.StageDone
		v.Receipt, v.CanNewSale = r.receipt(o), true
	case order.StatusVoided:
		v.Stage = ui.StageVoided
		v.Receipt, v.CanNewSale = r.receipt(o), true
	}
	return v
}

// cardProcessing says whether the order's card is being authorised (its
// confirmation is queued) or a saved method is being charged: no other
// tender may be taken until it ends.
//
// refused is true instead when the card's only confirmation is a dead
// letter: the API refused it for good, and the sale may be settled
// otherwise.
func cardProcessing(o *order.Order, x entries) (processing, refused bool) {
	if x.any(savedCreate) {
		return true, false
	}
	c, ok := CurrentCard(o)
	if !ok || c.Payment.Status != order.PaymentRequiresConfirmation {
		return false, false
	}
	processing = x.any(func(e queue.Entry) bool { return e.Op == queue.OpConfirm && toSend(e) })
	return processing, !processing
}

func (r *Register) lineViews(o *order.Order) []ui.LineView {
	ts := o.Totals()
	lines := o.Lines()
	out := make([]ui.LineView, len(lines))
	for i, l := range lines {
		lt := ts.Lines[i]
		total, _ := lt.Subtotal.Sub(lt.LineDiscount)
		out[i] = ui.LineView{ID: l.ID, Name: l.Name, Quantity: l.Quantity, UnitPrice: r.format(l.UnitPrice),
			Discount: r.discountLabel(l.Discount), Total: r.format(total)}
	}
	return out
}

func (r *Register) discountLabel(d order.Discount) string {
	switch d.Kind {
	case order.DiscountPercent:
		return fmt.Sprintf("−%s %%", trimBP(d.BasisPoints))
	case order.DiscountAmount:
		return "−" + r.format(d.Amount)
	}
	return ""
}

// trimBP renders basis points as a percentage: 1000 → "10", 1250 → "12.5".
func trimBP(bp int64) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func (r *Register) fillTotals(o *order.Order, subtotal, cartDiscount, tax, total *string, lines *[]ui.TaxLineView) {
	ts := o.Totals()
	sub, _ := ts.Subtotal.Sub(ts.LineDiscounts)
	*subtotal, *tax, *total = r.format(sub), r.format(ts.Tax), r.format(ts.Total)
	if ts.CartDiscount.Amount != 0 {
		*cartDiscount = "−" + r.format(ts.CartDiscount)
	}
	for _, rt := range ts.ByRate {
		*lines = append(*lines, ui.TaxLineView{Label: lang.L("VAT {{.Rate}} %", map[string]any{"Rate": trimBP(int64(rt.Rate))}), Amount: r.format(rt.Tax)})
	}
}

// receipt is the printed receipt of a finished order.
func (r *Register) receipt(o *order.Order) *ui.ReceiptView {
	v := &ui.ReceiptView{OrderID: o.ID(), Voided: o.Status() == order.StatusVoided, Lines: r.lineViews(o), At: o.CompletedAt()}
	if v.Voided {
		v.At = o.VoidedAt()
	}
	r.fillTotals(o, &v.Subtotal, &v.CartDiscount, &v.Tax, &v.Total, &v.TaxLines)
	for _, t := range o.Tenders() {
		switch {
		case t.Kind == order.TenderCash && t.Cash != nil:
			v.Tenders = append(v.Tenders, ui.TenderView{Kind: lang.L("Cash"), Amount: r.format(t.Amount), Detail: lang.L("given {{.Amount}}", map[string]any{"Amount": r.format(t.Cash.Given)})})
			if t.Cash.Change.Amount != 0 {
				v.Change = r.format(t.Cash.Change)
			}
		case t.Payment != nil && (t.Counts() || t.Payment.Failed):
			detail := strings.ToUpper(t.Payment.Brand)
			if t.Payment.Last4 != "" {
				detail += " •••• " + t.Payment.Last4
			}
			switch {
			case t.Payment.Failed:
				detail += " (" + lang.L("payment failed") + ")"
			case t.Payment.Refunded:
				detail += " (" + lang.L("refunded") + ")"
			case t.Payment.Forwarding():
				detail += " (" + lang.L("offline, to be forwarded") + ")"
			case t.Payment.Status.Pending():
				detail += " (" + lang.L("payment pending") + ")"
			case t.Payment.SavedMethod != "":
				detail += " (" + lang.L("saved") + ")"
			}
			v.Tenders = append(v.Tenders, ui.TenderView{Kind: tenderLabel(t.Kind), Amount: r.format(t.Amount), Detail: strings.TrimSpace(detail)})
		}
	}
	v.Pending = o.PaymentPending()
	v.Voidable = o.Status() == order.StatusCompleted && !v.Pending
	if rounding := o.CashRounding(); rounding.Amount != 0 {
		v.Tenders = append(v.Tenders, ui.TenderView{Kind: lang.L("Cash rounding"), Amount: r.format(rounding)})
	}
	return v
}

// Receipts implements ui.Register: the lane's last n finished sales.
func (r *Register) Receipts(n int) []ui.ReceiptView {
	var out []ui.ReceiptView
	err := r.t.store.View(func(tx *queue.Tx) error {
		return r.t.forEachLaneOrderReverse(tx, func(id string, data []byte) error {
			o, err := order.Unmarshal(data, r.t.now)
			if err != nil || !o.Status().Final() {
				return nil
			}
			out = append(out, *r.receipt(o))
			if len(out) == n {
				return errStop
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, errStop) {
		r.t.log.Warn("read receipts", "err", err)
	}
	return out
}

// Status implements ui.Register: what the status bar shows.
func (r *Register) Status() ui.StatusBarView {
	t := r.t
	var v ui.StatusBarView
	switch t.drainer.State() {
	case drain.Online:
		v.Connectivity = ui.ConnOnline
	case drain.Offline:
		v.Connectivity = ui.ConnOffline
	}
	if s, err := t.store.Stats(); err == nil {
		v.Pending, v.OldestPending, v.Dead = s.Pending+s.InFlight, s.OldestPending, s.Dead
	}
	t.mu.Lock()
	state := t.readerState
	t.mu.Unlock()
	switch state {
	case reader.StateConnecting:
		v.Reader = ui.ReaderConnecting
	case reader.StateReady:
		v.Reader = ui.ReaderReady
	case reader.StateBusy:
		v.Reader = ui.ReaderBusy
	}
	if info, err := t.reader.Info(); err == nil && state != reader.StateDisconnected {
		v.ReaderDetail = info.Model
	} else if cause := t.readerCause(); cause != nil {
		v.ReaderDetail = cause.Error()
	}
	if err := t.managerStatus(&v); err != nil {
		t.log.Warn("read the manager's lists for the status bar", "err", err)
	}
	return v
}

// managerStatus fills the status bar's warnings: payments stored offline
// (overdue past the store's age limit), uncaptured authorisations close to
// expiry, and the manager's list (payments failed after their sale, dead
// letters).
func (t *Till) managerStatus(v *ui.StatusBarView) error {
	return t.store.View(func(tx *queue.Tx) error {
		stored, err := storedList.load(tx)
		if err != nil {
			return err
		}
		st := t.offlineStatus(stored)
		v.OfflineStored, v.OfflineOldest, v.OfflineOverdue = st.Count, st.Oldest, st.Overdue
		v.OfflineAmount = formatAmounts(st.Amounts, t.locale)
		auths, err := authList.load(tx)
		if err != nil {
			return err
		}
		now := t.now()
		for _, a := range auths {
			if a.CaptureBefore.Sub(now) < reconcile.DefaultNearExpiry {
				v.NearExpiry++
			}
		}
		att, err := attentionList.load(tx)
		if err != nil {
			return err
		}
		v.Attention = len(att) + v.Dead
		return nil
	})
}

// readerActivity follows the reader while it collects: a card presented
// or a PIN being typed is shown to the cashier.
func (r *Register) readerActivity(ev reader.Event) {
	var msg string
	step := ui.CardReading
	switch ev.Kind {
	case reader.EventWaitingForCard:
		step, msg = ui.CardPresent, lang.L("Ask the customer to present a card")
	case reader.EventCardPresented:
		msg = lang.L("Reading the card…")
	case reader.EventPINEntry:
		msg = lang.L("The customer is entering their PIN…")
		if ev.Done {
			msg = lang.L("Reading the card…")
		}
	default:
		return
	}
	if r.collecting() {
		r.setStep(step, msg)
	}
}

// collecting says whether the card worker has the reader collecting a
// card (setting up, asking for it, or reading it).
func (r *Register) collecting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run != nil && (r.card.Step == ui.CardCreating || r.card.Step == ui.CardPresent || r.card.Step == ui.CardReading)
}

// kickDisplay asks the display loop to show the sale on the reader.
func (r *Register) kickDisplay() {
	select {
	case r.kick <- struct{}{}:
	default: // one is pending already
	}
}

// displayLoop keeps the reader's customer display in step with the sale:
// the cart while ringing up, "thank you" after payment, the idle screen
// for a new sale. Changes in quick succession (a scanner emptying a basket)
// are sent once, displayDebounce after the first.
func (r *Register) displayLoop(ctx context.Context) {
	defer close(r.done)
	var last *reader.Display
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		debounce := time.NewTimer(displayDebounce)
		select {
		case <-ctx.Done():
			debounce.Stop()
			return
		case <-debounce.C:
		}
		if r.stale.Swap(false) {
			last = nil
		}
		d, ok := r.customerDisplay()
		if !ok {
			// The reader shows its own prompts: whatever comes next is sent.
			last = nil
			continue
		}
		if last != nil && reflect.DeepEqual(*last, d) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		if d.Screen == wire.ScreenIdle {
			err = r.t.reader.ClearDisplay(sctx)
		} else {
			err = r.t.reader.SetDisplay(sctx, d)
		}
		cancel()
		if err != nil {
			// The reader shows the next change, or everything on reconnect.
			last = nil
			if !errors.Is(err, reader.ErrNotConnected) && !errors.Is(err, context.Canceled) {
				r.t.log.Info("customer display not updated", "err", err)
			}
			continue
		}
		last = &d
	}
}

// customerDisplay is what the reader should show for the sale now; ok is
// false while a card is collected (the reader shows its own prompts).
func (r *Register) customerDisplay() (reader.Display, bool) {
	_, o, err := r.current()
	if err != nil {
		return reader.Display{}, false
	}
	if o == nil || len(o.Lines()) == 0 && o.Status() == order.StatusOpen {
		return reader.Display{Screen: wire.ScreenIdle}, true
	}
	switch o.Status() {
	case order.StatusTendering:
		if d, ok := r.t.walletDisplay(o); ok {
			return d, true
		}
		return r.cardDisplay(o)
	case order.StatusCompleted:
		msg := "Thank you!"
		if c, ok := CurrentCard(o); ok && c.Payment.Offline {
			msg = "Approved offline. Thank you!"
		}
		return reader.Display{Screen: wire.ScreenThankYou, Message: msg}, true
	case order.StatusVoided:
		return reader.Display{Screen: wire.ScreenIdle}, true
	}
	cart, err := r.readerCart(o)
	if err != nil {
		r.t.log.Warn("customer display", "err", err)
		return reader.Display{}, false
	}
	return reader.Display{Screen: wire.ScreenCart, Cart: cart}, true
}

// cardDisplay is the customer display during a card payment: nothing of
// the till's while the reader collects, "Processing…" once the card is
// read and its confirmation is on its way, "Card declined" after a
// decline until the next attempt.
func (r *Register) cardDisplay(o *order.Order) (reader.Display, bool) {
	tender, ok := CurrentCard(o)
	if !ok {
		return reader.Display{}, false
	}
	switch tender.Payment.Status {
	case order.PaymentRequiresConfirmation, order.PaymentProcessing:
		return reader.Display{Screen: wire.ScreenMessage, Message: "Processing…"}, true
	case order.PaymentRequiresPaymentMethod:
		if tender.Payment.Decline != nil && !r.collecting() {
			return reader.Display{Screen: wire.ScreenMessage, Message: "Card declined"}, true
		}
	}
	return reader.Display{}, false
}

// showOnReader puts d on the reader for orderID's payment. A SetDisplay
// also releases a reader holding a collected card (docs/reader-protocol.md
// §11), so it goes at once, not through a register's debounced display
// loop. An open register is then told, so that a screen its loop sent in
// the meantime ("Thank you!" as the payment went through) is sent again
// rather than left covered by this late one.
func (t *Till) showOnReader(ctx context.Context, orderID, what string, d reader.Display) {
	show, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := t.reader.SetDisplay(show, d); err != nil {
		t.log.Warn("show "+what+" on the reader", "order", orderID, "err", err)
	}
	t.mu.Lock()
	wrote := t.displayWritten
	t.mu.Unlock()
	if wrote != nil {
		wrote()
	}
}

// displayWritten is told that the till wrote the customer display itself:
// the loop's idea of what the reader shows is stale.
func (r *Register) displayWritten() {
	r.stale.Store(true)
	r.kickDisplay()
}

// readerCart is the cart in the payment API's units, as the reader
// protocol wants it.
func (r *Register) readerCart(o *order.Order) (*reader.Cart, error) {
	ts := o.Totals()
	units := func(m money.Money) (int64, error) { return m.StripeAmount() }
	c := &reader.Cart{Currency: o.Currency().StripeCode()}
	var err error
	for i, l := range o.Lines() {
		lt := ts.Lines[i]
		total, e1 := lt.Subtotal.Sub(lt.LineDiscount)
		amount, e2 := units(total)
		if err = errors.Join(e1, e2); err != nil {
			return nil, err
		}
		c.Lines = append(c.Lines, reader.Line{Name: l.Name, Quantity: int32(min(l.Quantity, 1<<31-1)), Amount: amount})
	}
	sub, e1 := ts.Subtotal.Sub(ts.LineDiscounts)
	c.Subtotal, err = units(sub)
	if err = errors.Join(e1, err); err != nil {
		return nil, err
	}
	if c.Tax, err = units(ts.Tax); err != nil {
		return nil, err
	}
	if c.Total, err = units(ts.Total); err != nil {
		return nil, err
	}
	return c, nil
}

// attachRegister routes the reader's collection events to an open
// register and tells it when the till writes the customer display itself;
// nil, nil detaches it.
func (t *Till) attachRegister(activity func(reader.Event), wrote func()) {
	t.mu.Lock()
	t.readerActivity, t.displayWritten = activity, wrote
	t.mu.Unlock()
}

// ErrClosed is returned by a closed Register.
var ErrClosed = errors.New("the register is closed")

// checkManagerPIN checks the manager's PIN (slowly: a password hash), with
// the lockout, and says what is wrong in the cashier's terms.
func (t *Till) checkManagerPIN(pin string) error {
	err := t.pin.Check(pin)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, manager.ErrNoPIN):
		return fmt.Errorf("no manager PIN is set on this till: %w", ui.ErrManagerPIN)
	case errors.Is(err, manager.ErrWrongPIN), errors.Is(err, manager.ErrLocked), errors.Is(err, manager.ErrBadPIN):
		return fmt.Errorf("%w: %w", ui.ErrWrongPIN, err)
	}
	return fmt.Errorf("check the manager PIN: %w", err)
}

// tenderLabel is a tender kind for receipts.
func tenderLabel(k order.TenderKind) string {
	switch k {
	case order.TenderCard:
		return lang.L("Card")
	case order.TenderSEPADebit:
		return lang.L("SEPA Direct Debit")
	}
	if w, ok := walletOf(string(k)); ok {
		return w.label
	}
	return string(k)
}

// hasCard says whether the order has a card payment in play.
func hasCard(o *order.Order) bool {
	_, ok := CurrentCard(o)
	return ok
}

// walletOptions are the wallet tenders the cart offers, each saying
// whether it can take this sale.
func (r *Register) walletOptions(o *order.Order) []ui.WalletOption {
	var out []ui.WalletOption
	for _, w := range r.t.walletsOffered() {
		opt := ui.WalletOption{Kind: string(w.kind), Label: w.label, Enabled: len(o.Lines()) > 0}
		if err := r.t.walletRefusal(w, o.Remaining()); err != nil {
			opt.Enabled, opt.Why = false, walletReason(err)
		}
		out = append(out, opt)
	}
	return out
}
