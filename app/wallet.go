package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"
	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/drain"
	"github.com/tillpos/till/ui"
)

// Wallets at the till (SPEC §2.3, §2.4): the customer scans a QR code of
// the PaymentIntent's redirect URL with their phone and authorises in the
// wallet's app; the till follows the PaymentIntent until it succeeds or
// fails back to requires_payment_method.

// Errors of wallet payments; the cashier reads them as they are.
var (
	// ErrWalletCurrency: the wallet does not take the store's currency.
	ErrWalletCurrency = errors.New("this wallet does not take this currency")
	// ErrWalletLimit: the amount is above what the wallet accepts.
	ErrWalletLimit = errors.New("the amount is above this wallet's limit")
	// ErrNoWalletPayment: there is no wallet payment to retry or cancel.
	ErrNoWalletPayment = errors.New("there is no wallet payment on this sale")
)

// wallet is what the till knows of one wallet.
type wallet struct {
	kind       order.TenderKind
	label      string
	currencies []string // the API's lower-case codes
	max        int64    // in the API's minor units; 0 for none
	automatic  bool     // automatic capture only
}

var wallets = []wallet{
	{kind: order.TenderTwint, label: "TWINT", currencies: []string{"chf"}, max: 5000_00, automatic: true},
	{kind: order.TenderMobilePay, label: "MobilePay", currencies: []string{"dkk", "eur", "sek", "nok"}},
}

func walletOf(kind string) (wallet, bool) {
	i := slices.IndexFunc(wallets, func(w wallet) bool { return string(w.kind) == kind })
	if i < 0 {
		return wallet{}, false
	}
	return wallets[i], true
}

// isWallet says whether a tender kind is a wallet.
func isWallet(k order.TenderKind) bool { return k == order.TenderTwint || k == order.TenderMobilePay }

// walletsOffered are the wallets the cart shows: those that take the
// store's currency.
func (t *Till) walletsOffered() []wallet {
	code := t.catalog.Currency().StripeCode()
	var out []wallet
	for _, w := range wallets {
		if slices.Contains(w.currencies, code) {
			out = append(out, w)
		}
	}
	return out
}

// online says whether the payment service answered lately.
func (t *Till) online() bool { return t.drainer.State() != drain.Offline }

// walletRefusal says why a wallet cannot take amount now, or nil.
func (t *Till) walletRefusal(w wallet, amount money.Money) error {
	code := amount.Currency.StripeCode()
	if !slices.Contains(w.currencies, code) {
		return fmt.Errorf("%s takes %s only: %w", w.label, strings.ToUpper(strings.Join(w.currencies, ", ")), ErrWalletCurrency)
	}
	if minor, err := amount.StripeAmount(); err == nil && w.max > 0 && minor > w.max {
		return fmt.Errorf("%s takes at most %s: %w", w.label, t.formatMinor(w.max, amount.Currency), ErrWalletLimit)
	}
	if !t.online() {
		return fmt.Errorf("%s needs a connection to the payment service: take a card or cash: %w", w.label, ui.ErrOffline)
	}
	return nil
}

func (t *Till) formatMinor(minor int64, c money.Currency) string {
	m, err := money.FromStripeAmount(minor, c)
	if err != nil {
		return fmt.Sprint(minor)
	}
	return m.Format(t.locale)
}

// walletReason is the refusal for the cashier, in their language.
func walletReason(err error) string {
	switch {
	case errors.Is(err, ui.ErrOffline):
		return lang.L("Needs a connection")
	case errors.Is(err, ErrWalletCurrency):
		return lang.L("Not in this currency")
	case errors.Is(err, ErrWalletLimit):
		return lang.L("Above the wallet's limit")
	}
	return err.Error()
}

// walletReturnURL is where the wallet's page sends the customer's phone
// after they answered. The till has no page of its own: the shop may set
// its website (config wallet_return_url).
func (t *Till) walletReturnURL() string {
	if t.cfg.WalletReturnURL != "" {
		return t.cfg.WalletReturnURL
	}
	return defaultWalletReturnURL
}

// defaultWalletReturnURL is a placeholder page: the customer's phone shows
// the wallet's own confirmation, and this page only ends the redirect.
const defaultWalletReturnURL = "https://till.invalid/wallet-return"

// walletStart is the PaymentIntent creation of a wallet payment, created
// and confirmed at once (payment_method_data), so that its answer carries
// the QR code's URL.
func (t *Till) walletStart(w wallet) paymentStart {
	return paymentStart{kind: w.kind, method: string(w.kind), form: func(o *order.Order, _ int64, _ string) *stripe.PaymentIntentParams {
		capture := t.captureMethod()
		if w.automatic {
			capture = string(stripe.PaymentIntentCaptureMethodAutomatic)
		}
		p := &stripe.PaymentIntentParams{
			PaymentMethodTypes: stripe.StringSlice([]string{string(w.kind)}),
			PaymentMethodData:  &stripe.PaymentIntentPaymentMethodDataParams{Type: stripe.String(string(w.kind))},
			Confirm:            stripe.Bool(true),
			ReturnURL:          stripe.String(t.walletReturnURL()),
			CaptureMethod:      stripe.String(capture),
		}
		if c := o.Customer(); c != nil {
			p.Customer = stripe.String(c.ID)
		}
		return p
	}}
}

// ChargeWallet implements ui.Register.
func (r *Register) ChargeWallet(kind string) error {
	w, ok := walletOf(kind)
	if !ok {
		return fmt.Errorf("charge %q: not a wallet this till knows", kind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	op := "charge " + w.label
	if err := r.readyLocked(op); err != nil {
		return err
	}
	o, err := r.t.Order(r.id)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := r.t.walletRefusal(w, o.Remaining()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := r.t.startPayment(r.id, r.t.walletStart(w)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	r.startFollowLocked()
	return nil
}

// readyLocked checks that a tender may start: the register is open, the
// sale has lines and no payment worker runs. r.mu is held.
func (r *Register) readyLocked(op string) error {
	switch {
	case r.ended:
		return fmt.Errorf("%s: %w", op, ErrClosed)
	case r.id == "":
		return fmt.Errorf("%s: %w", op, ErrEmptyCart)
	case r.run != nil && r.runKind != runFollow:
		return fmt.Errorf("%s: %w", op, ErrCardInProgress)
	}
	r.stopCardLocked() // a follower of a failed wallet
	return nil
}

// currentWallet is the sale's wallet payment in play.
func currentWallet(o *order.Order) (order.Tender, wallet, bool) {
	t, ok := CurrentPayment(o)
	if !ok || !isWallet(t.Kind) {
		return order.Tender{}, wallet{}, false
	}
	w, _ := walletOf(string(t.Kind))
	return t, w, true
}

// RetryWallet implements ui.Register: the same PaymentIntent is confirmed
// again with the wallet (through the outbox), which gives a new QR code.
func (r *Register) RetryWallet() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.readyLocked("retry wallet"); err != nil {
		return err
	}
	err := r.t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, r.id, r.t.now)
		if err != nil {
			return err
		}
		tender, w, ok := currentWallet(o)
		if !ok || o.Status() != order.StatusTendering {
			return ErrNoWalletPayment
		}
		if tender.Payment.Status != order.PaymentRequiresPaymentMethod {
			return fmt.Errorf("the %s payment is %s, not waiting for the customer: %w", w.label, tender.Payment.Status, ErrBusy)
		}
		if !r.t.online() {
			return fmt.Errorf("%s needs a connection to the payment service: %w", w.label, ui.ErrOffline)
		}
		if err := o.SetPaymentStatus(tender.ID, order.PaymentRequiresConfirmation, "", ""); err != nil {
			return err
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		confirm := &stripe.PaymentIntentConfirmParams{
			PaymentMethodData: &stripe.PaymentIntentPaymentMethodDataParams{Type: stripe.String(string(w.kind))},
			ReturnURL:         stripe.String(r.t.walletReturnURL()),
		}
		_, err = tx.Enqueue(queue.NewEntry{OrderID: o.ID(), Op: queue.OpConfirm, Payload: encodePayload(opPayload{
			PaymentIntent: tender.Payment.PaymentIntentID, Form: string(api.Encode(confirm)),
			From: string(stripe.PaymentIntentStatusRequiresPaymentMethod),
		})})
		return err
	})
	if err != nil {
		return fmt.Errorf("retry wallet: %w", err)
	}
	r.startFollowLocked()
	return nil
}

// CancelWallet implements ui.Register: the wallet's PaymentIntent is
// cancelled through the outbox and the sale goes back to the cart, where
// another tender (or a changed cart) can follow.
func (r *Register) CancelWallet() error {
	return r.reopenCart("cancel wallet", ErrNoWalletPayment, func(tx *queue.Tx, o *order.Order) error {
		if o.Status() != order.StatusTendering {
			return ErrNoWalletPayment
		}
		if _, _, ok := currentWallet(o); !ok {
			// Its creation may still wait in the outbox (offline): the
			// cancel behind it finds the PaymentIntent, if any.
			es, err := tx.OrderEntries(o.ID())
			if err != nil {
				return err
			}
			if _, queued := walletQueued(es); !queued {
				return ErrNoWalletPayment
			}
		}
		return r.t.dropCard(tx, o)
	})
}

// startFollowLocked starts following the sale's wallet payment; r.mu is
// held.
func (r *Register) startFollowLocked() {
	r.startRunLocked(runFollow, func(ctx context.Context, id string) (ui.CardStep, string) {
		r.t.followWallet(ctx, id)
		return ui.CardCreating, ""
	})
	r.t.wakeEvents()
}

// walletPoll is how often a wallet payment waiting for the customer is
// retrieved, besides the events.
const walletPoll = 2 * time.Second

// followWallet follows the order's wallet payment until it leaves the
// customer's hands: while the PaymentIntent waits for the customer it is
// retrieved every walletPoll (and at every store change) and what it says
// is recorded on the order; it ends when the order completes, the payment
// fails back to requires_payment_method, or ctx ends.
func (t *Till) followWallet(ctx context.Context, id string) {
	every := t.walletPoll
	if every <= 0 {
		every = walletPoll
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		changed := t.changesChan()
		o, err := t.Order(id)
		if err != nil {
			t.log.Warn("follow wallet payment", "order", id, "err", err)
			return
		}
		tender, _, ok := currentWallet(o)
		if o.Status() != order.StatusTendering || ok && tender.Payment.Status == order.PaymentRequiresPaymentMethod {
			return // done, or back with the cashier
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			continue
		case <-tick.C:
		}
		if ok && tender.Payment.Status == order.PaymentRequiresAction && !t.queuedFor(id) {
			if err := t.refreshIntent(ctx, id, tender.Payment.PaymentIntentID, nil); err != nil && ctx.Err() == nil {
				t.log.Info("follow wallet payment", "order", id, "err", err)
			}
		}
	}
}

// walletView is the wallet payment's progress for the screen, given the
// order's outbox entries.
func (r *Register) walletView(o *order.Order, x entries, v *ui.SaleView) {
	tender, w, ok := currentWallet(o)
	if !ok {
		// The creation is still queued: find which wallet from the entry.
		if w, ok = walletQueued(x.es); !ok {
			return
		}
	}
	wv := ui.WalletView{Kind: string(w.kind), Label: w.label, Amount: v.Due}
	queued := x.any(toSend)
	switch {
	case tender.Payment == nil || tender.Payment.Status == order.PaymentRequiresConfirmation:
		wv.Step, wv.Message = ui.WalletCreating, lang.L("Asking the payment service for the QR code…")
		if !r.t.online() {
			wv.Step, wv.Message = ui.WalletOffline, lang.L("The payment service is not reachable. Cancel the payment and take a card or cash.")
		}
	case tender.Payment.Status == order.PaymentRequiresAction && tender.Payment.Action != nil:
		wv.Step, wv.URL, wv.Expires = ui.WalletScan, tender.Payment.Action.URL, tender.Payment.Action.Expires
		wv.Message = lang.L("Ask the customer to scan the code with the {{.Wallet}} app and confirm.", map[string]any{"Wallet": w.label})
	case tender.Payment.Status == order.PaymentRequiresPaymentMethod:
		wv.Step = ui.WalletFailed
		wv.Message = walletFailure(w, tender.Payment.Decline)
	default:
		wv.Step, wv.Message = ui.WalletCreating, lang.L("Confirming the payment…")
	}
	v.Stage, v.Wallet = ui.StageWallet, wv
	v.CanRetryWallet = wv.Step == ui.WalletFailed && !queued
	v.CanCancelWallet = wv.Step != ui.WalletCreating || !queued
	v.CanPayCash = v.CanCancelWallet
	v.CanVoid = v.CanCancelWallet
}

// walletFailure says why a wallet payment did not go through.
func walletFailure(w wallet, d *order.Decline) string {
	if d == nil {
		return lang.L("The {{.Wallet}} payment did not go through. Try again, or take another payment.", map[string]any{"Wallet": w.label})
	}
	if d.Code == "payment_intent_authentication_failure" {
		return lang.L("The customer refused the payment, or their time ran out. Try again, or take another payment.")
	}
	return lang.L("{{.Wallet}} refused the payment ({{.Reason}}). Try again, or take another payment.", map[string]any{"Wallet": w.label, "Reason": d.Code})
}

// walletQueued is the wallet whose creation is among an order's entries
// still to send.
func walletQueued(es []queue.Entry) (w wallet, found bool) {
	for _, e := range es {
		if e.Op != queue.OpCreate || !toSend(e) {
			continue
		}
		if p, err := decodePayload(e.Payload); err == nil {
			if w, found = walletOf(p.Kind); found {
				return w, true
			}
		}
	}
	return wallet{}, false
}

// walletDisplay is the QR code for the reader's screen, when the sale's
// wallet payment waits for the customer.
func (t *Till) walletDisplay(o *order.Order) (reader.Display, bool) {
	tender, w, ok := currentWallet(o)
	if !ok || tender.Payment.Status != order.PaymentRequiresAction || tender.Payment.Action == nil {
		return reader.Display{}, false
	}
	qr := &reader.QR{Payload: tender.Payment.Action.URL, Caption: w.label + " " + tender.Amount.Format(t.locale)}
	if exp := tender.Payment.Action.Expires; !exp.IsZero() {
		qr.ExpiresIn = uint32(max(exp.Sub(t.now()), 0) / time.Second)
	}
	return reader.Display{Screen: wire.ScreenQR, QR: qr}, true
}

// walletSimulator plays the customer's phone against the built-in
// sandbox: it answers the wallet page the QR code shows.
type walletSimulator struct {
	base   string // the sandbox's URL: only its pages are answered
	client *http.Client
}

func newWalletSimulator(base string) walletSimulator {
	return walletSimulator{base: base, client: &http.Client{
		Timeout: 10 * time.Second,
		// The page answers 303 to the shop's return URL: not ours to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// ApproveWallet implements ui.WalletSimulator.
func (s walletSimulator) ApproveWallet(u string) error { return s.answer(u, "authorize") }

// RefuseWallet implements ui.WalletSimulator.
func (s walletSimulator) RefuseWallet(u string) error { return s.answer(u, "fail") }

func (s walletSimulator) answer(u, action string) error {
	if !strings.HasPrefix(u, s.base+"/") {
		return fmt.Errorf("simulate the customer's phone: %q is not a page of the built-in sandbox", u)
	}
	resp, err := s.client.PostForm(u, url.Values{"action": {action}})
	if err != nil {
		return fmt.Errorf("simulate the customer's phone: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulate the customer's phone: the wallet page answered %s", resp.Status)
	}
	return nil
}

// WalletSimulator is the customer's phone when the API is the built-in
// sandbox; nil otherwise.
func (t *Till) WalletSimulator() ui.WalletSimulator {
	if t.sandbox == nil {
		return nil
	}
	return newWalletSimulator(t.api.BaseURL)
}

// entries are an order's outbox entries (pending, in flight, blocked and
// dead), read once for a set of questions. An outbox that could not be
// read answers "yes" to each, the safe answer for every caller: wait, do
// not take another tender.
type entries struct {
	es  []queue.Entry
	err error
}

// entriesOf reads the order's outbox entries.
func (t *Till) entriesOf(id string) entries {
	var x entries
	x.err = t.store.View(func(tx *queue.Tx) error {
		var err error
		x.es, err = tx.OrderEntries(id)
		return err
	})
	return x
}

// any says whether an entry matches.
func (x entries) any(match func(queue.Entry) bool) bool {
	return x.err != nil || slices.ContainsFunc(x.es, match)
}

// toSend: an entry still to be sent (not a dead letter).
func toSend(e queue.Entry) bool { return e.State != queue.StateDead }

// savedCreate: a creation still to be sent that charges a saved payment
// method (or whose payload cannot be read).
func savedCreate(e queue.Entry) bool {
	p, err := decodePayload(e.Payload)
	return e.Op == queue.OpCreate && toSend(e) && (err != nil || p.Saved != "")
}

// deadCreate: a creation the API refused for good.
func deadCreate(e queue.Entry) bool { return e.Op == queue.OpCreate && e.State == queue.StateDead }

// queuedFor says whether the order has outbox entries still to send: their
// answers are recorded by the outbox, so a retrieve would race them.
func (t *Till) queuedFor(id string) bool { return t.entriesOf(id).any(toSend) }

// queuedOp says whether an operation of this kind is still to be sent for
// the order.
func (t *Till) queuedOp(id string, op queue.Op) bool {
	return t.entriesOf(id).any(func(e queue.Entry) bool { return e.Op == op && toSend(e) })
}
