package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"
	"github.com/stripe/stripe-go/v86"
	"golang.org/x/text/language"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/sync/api"
)

// Card payments while the payment service is out of reach (SPEC §3):
// store and forward. When the outbox is offline and the reader can
// collect for deferred authorisation, the card is collected against a
// reference of the till's own, the reader's payload is sealed into the
// order, the sale completes marked "offline — to be forwarded", and the
// PaymentIntent's creation — confirmed with the payload, then captured —
// is enqueued in the same transaction. The outbox forwards it when the
// connection returns. Limits per sale and in all, per currency, are
// checked before the card is asked for.

// ErrOfflineRefused: a card cannot be taken offline now; OfflineReason
// gives why, for the cashier (a limit, a reader that cannot, the store's
// setting).
var ErrOfflineRefused = errors.New("card payments cannot be taken offline now")

// offlineRefused is an ErrOfflineRefused with its reason.
type offlineRefused struct{ why string }

func (e *offlineRefused) Error() string        { return ErrOfflineRefused.Error() + ": " + e.why }
func (e *offlineRefused) Is(target error) bool { return target == ErrOfflineRefused }

// OfflineReason is the cashier's reason a card cannot be taken offline,
// when err is such a refusal.
func OfflineReason(err error) (string, bool) {
	var r *offlineRefused
	if errors.As(err, &r) {
		return r.why, true
	}
	return "", false
}

// defaultOfflineLimits are the limits, in major units, of currencies the
// store did not configure: modest amounts a shop can lose to a decline.
var defaultOfflineLimits = map[string][2]int64{
	"CHF": {250, 2000}, "EUR": {250, 2000}, "USD": {250, 2000}, "GBP": {200, 1500}, "CAD": {300, 2500},
	"DKK": {2000, 15000}, "SEK": {2500, 20000}, "NOK": {2500, 20000}, "PLN": {1000, 8000},
	"JPY": {30000, 250000},
}

// DefaultOfflineLimit is the limit of a currency the store did not
// configure.
func DefaultOfflineLimit(cur money.Currency) (perSale, total money.Money) {
	l, ok := defaultOfflineLimits[cur.Code()]
	if !ok {
		l = [2]int64{250, 2000}
	}
	return money.New(l[0]*cur.Pow10(), cur), money.New(l[1]*cur.Pow10(), cur)
}

// defaultOfflineMaxAge is how old a stored payment may get before the
// status bar warns.
const defaultOfflineMaxAge = 24 * time.Hour

func (c OfflineConfig) validate() error {
	if c.MaxAgeHours < 0 {
		return fmt.Errorf("max_age_hours %d is negative", c.MaxAgeHours)
	}
	for code, l := range c.Limits {
		cur, err := money.ParseCurrency(code)
		if err != nil {
			return fmt.Errorf("limits: %v", err)
		}
		if cur.Code() != code {
			// Looked up by the exact code: "chf" would be ignored.
			return fmt.Errorf("limits: write the currency %q as %q", code, cur.Code())
		}
		if _, _, err := l.parse(cur); err != nil {
			return fmt.Errorf("limits %s: %v", code, err)
		}
	}
	return nil
}

func (l OfflineLimit) parse(cur money.Currency) (perSale, total money.Money, err error) {
	if perSale, err = money.Parse(l.PerSale, cur, language.English); err != nil {
		return perSale, total, fmt.Errorf("per_sale: %w", err)
	}
	if total, err = money.Parse(l.Total, cur, language.English); err != nil {
		return perSale, total, fmt.Errorf("total: %w", err)
	}
	if perSale.Amount < 0 || total.Amount < 0 || perSale.Amount > total.Amount {
		return perSale, total, fmt.Errorf("per_sale %s and total %s must be ≥ 0, per_sale at most total", l.PerSale, l.Total)
	}
	return perSale, total, nil
}

// limits are the store's offline limits for cur.
func (c OfflineConfig) limits(cur money.Currency) (perSale, total money.Money) {
	if l, ok := c.Limits[cur.Code()]; ok {
		if p, t, err := l.parse(cur); err == nil { // validated when loaded
			return p, t
		}
	}
	return DefaultOfflineLimit(cur)
}

func (c OfflineConfig) maxAge() time.Duration {
	if c.MaxAgeHours > 0 {
		return time.Duration(c.MaxAgeHours) * time.Hour
	}
	return defaultOfflineMaxAge
}

// storedPayment is a card payment taken offline and not yet forwarded, in
// the store's list of them (for the limits, the status bar and the end of
// day); the sealed payload itself is on the order.
type storedPayment struct {
	Order  string      `json:"order"`
	Ref    string      `json:"ref"`
	Amount money.Money `json:"amount"`
	At     time.Time   `json:"at"`
}

var storedList = kvList[storedPayment]{key: "offline.stored", what: "the offline payments list",
	id: func(s storedPayment) string { return s.Order + "/" + s.Ref }}

// storedTotal is what is stored offline in cur.
func storedTotal(list []storedPayment, cur money.Currency) money.Money {
	sum := money.Zero(cur)
	for _, s := range list {
		if s.Amount.Currency == cur {
			sum.Amount += s.Amount.Amount
		}
	}
	return sum
}

// offlineRefusal says why the order's due amount cannot be taken by card
// offline, in words for the cashier; "" when it can.
func (t *Till) offlineRefusal(tx *queue.Tx, o *order.Order) (string, error) {
	if t.cfg.Offline.Disabled {
		return lang.L("This till takes no card payments while offline. Take cash, or wait for the connection."), nil
	}
	if info, err := t.reader.Info(); err != nil || !info.Capabilities.OfflineCapable {
		return lang.L("The card reader cannot take cards offline. Take cash, or wait for the connection."), nil
	}
	due := o.Remaining()
	perSale, total := t.cfg.Offline.limits(due.Currency)
	if due.Amount > perSale.Amount {
		return lang.L("Offline, a card can pay at most {{.Max}} per sale. Take cash, or wait for the connection.",
			map[string]any{"Max": perSale.Format(t.locale)}), nil
	}
	list, err := storedList.load(tx)
	if err != nil {
		return "", err
	}
	if stored := storedTotal(list, due.Currency); stored.Amount+due.Amount > total.Amount {
		return lang.L("{{.Stored}} of card payments is already waiting to be forwarded (at most {{.Max}}). Take cash, or wait for the connection.",
			map[string]any{"Stored": stored.Format(t.locale), "Max": total.Format(t.locale)}), nil
	}
	return "", nil
}

// offlineTurn checks that the order can take a card offline now (see
// checkOffline) and returns the amount due.
func (t *Till) offlineTurn(orderID string) (money.Money, error) {
	var due money.Money
	err := t.store.View(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, t.now)
		if err != nil {
			return err
		}
		if err := t.checkOffline(tx, o); err != nil {
			return err
		}
		due = o.Remaining()
		return nil
	})
	return due, err
}

// checkOffline checks that o's card payment can be taken offline now: it
// waits for a card (offlineReady), and the store's setting, the reader
// and the limits allow it (an ErrOfflineRefused with the reason).
func (t *Till) checkOffline(tx *queue.Tx, o *order.Order) error {
	if err := offlineReady(tx, o); err != nil {
		return err
	}
	why, err := t.offlineRefusal(tx, o)
	if err != nil {
		return err
	}
	if why != "" {
		return &offlineRefused{why: why}
	}
	return nil
}

// offlineReady checks that o is a sale whose card payment waits for a
// card on the reader: tendering, and either its creation queued (not
// answered: the service is out of reach) or its PaymentIntent waiting for
// a card. Either is given up (cancelled through the outbox) when the
// payment is stored.
func offlineReady(tx *queue.Tx, o *order.Order) error {
	if o.Status() != order.StatusTendering {
		return fmt.Errorf("the order is %s", o.Status())
	}
	if c, ok := CurrentPayment(o); ok {
		if c.Kind != order.TenderCard || c.Payment.SavedMethod != "" || c.Payment.Status != order.PaymentRequiresPaymentMethod {
			return fmt.Errorf("the order's %s payment is %s: %w", c.Kind, c.Payment.Status, ErrBusy)
		}
		return nil
	}
	es, err := tx.OrderEntries(o.ID())
	if err != nil {
		return err
	}
	if !(entries{es: es}).any(cardCreate) {
		return fmt.Errorf("no card payment was started: %w", ErrNotReady)
	}
	return nil
}

// cardCreate: a creation still to be sent of a card payment on the reader.
func cardCreate(e queue.Entry) bool {
	p, err := decodePayload(e.Payload)
	return e.Op == queue.OpCreate && toSend(e) && err == nil && p.Saved == "" && !p.Offline &&
		(p.Kind == "" || p.Kind == string(order.TenderCard))
}

// CollectOffline takes the order's card payment while the payment service
// is out of reach: the reader collects the card for deferred
// authorisation against a reference of the till's, and in one
// transaction the sealed payload goes onto the order as a card tender
// marked offline, the sale completes, and the forwarding — create and
// confirm with the payload, then capture — is enqueued. Errors wrap
// ErrOfflineRefused (limits, checked before the card is asked for),
// ErrNotReady, or the reader's errors as for CollectCard.
func (t *Till) CollectOffline(ctx context.Context, orderID string) (reader.Collected, error) {
	fail := func(err error) (reader.Collected, error) {
		return reader.Collected{}, fmt.Errorf("collect card offline for order %s: %w", orderID, err)
	}
	if err := t.reader.Connect(ctx); err != nil {
		return fail(err)
	}
	due, err := t.offlineTurn(orderID)
	if err != nil {
		return fail(err)
	}
	amount, err := due.StripeAmount()
	if err != nil {
		return fail(err)
	}
	ref := newPaymentRef()
	got, err := t.reader.Collect(ctx, reader.CollectRequest{
		PaymentIntent: offlineCollectID(ref), Amount: amount, Currency: due.Currency.StripeCode(),
		CustomerCancel: true, OfflineAllowed: true,
	})
	if err != nil {
		return fail(err)
	}
	if err := t.storeOffline(orderID, ref, due, got); err != nil {
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if rerr := t.reader.CancelCollect(release, got.PaymentIntent); rerr != nil {
			t.log.Warn("release the card on the reader", "order", orderID, "err", rerr)
		}
		return got, fmt.Errorf("collect card offline for order %s: %w", orderID, err)
	}
	t.showOnReader(ctx, orderID, "offline approval", reader.Display{Screen: wire.ScreenMessage, Message: "Approved offline"})
	return got, nil
}

// offlineCollectID is what the reader binds an offline payload to, in
// place of a PaymentIntent id; the payment service opens it with the same
// reference (payment_method_data[card_present][offline_reference]).
func offlineCollectID(ref string) string { return "offline_" + ref }

// storeOffline is CollectOffline's transaction.
func (t *Till) storeOffline(orderID, ref string, due money.Money, got reader.Collected) error {
	if !got.Offline {
		return errors.New("the reader did not take the card for deferred authorisation")
	}
	if len(got.Payload) == 0 {
		return errors.New("the reader gave no payment payload")
	}
	at := got.At
	if at.IsZero() {
		at = t.now()
	}
	sealedPayload := t.seal.seal(orderID, ref, got.Payload)
	return t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, t.now)
		if err != nil {
			return err
		}
		// Again, in the transaction that stores the payment.
		if err := t.checkOffline(tx, o); err != nil {
			return err
		}
		if o.Remaining() != due {
			return fmt.Errorf("the amount due changed while the card was read (%s, was %s)", o.Remaining(), due)
		}
		// The online attempt is given up: its creation, if it lands after
		// all, is cancelled behind it.
		if err := t.dropCard(tx, o); err != nil {
			return err
		}
		tender, err := o.AddPayment(order.TenderCard, due, order.Payment{
			Status: order.PaymentRequiresConfirmation, Method: "card_present",
			Brand: got.Brand, Last4: got.Last4,
			Offline: true, Ref: ref, Stored: sealedPayload, StoredAt: at.UTC(),
		})
		if err != nil {
			return err
		}
		if err := o.Complete(); err != nil {
			return err
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		form, err := t.forwardForm(o, tender, ref)
		if err != nil {
			return err
		}
		if _, err := tx.Enqueue(queue.NewEntry{OrderID: orderID, Op: queue.OpCreate, Payload: encodePayload(opPayload{
			Form: form, Kind: string(order.TenderCard), Method: "card_present", Ref: ref, Offline: true,
		})}); err != nil {
			return err
		}
		return storedList.add(tx, storedPayment{Order: orderID, Ref: ref, Amount: due, At: at.UTC()})
	})
}

// forwardForm is the creation of an offline payment's PaymentIntent,
// confirmed at once, without the payload: the executor adds it from the
// order when it sends the request, so the outbox never holds it.
func (t *Till) forwardForm(o *order.Order, tender order.Tender, ref string) (string, error) {
	amount, err := tender.Amount.StripeAmount()
	if err != nil {
		return "", err
	}
	p := &stripe.PaymentIntentParams{
		Amount:             stripe.Int64(amount),
		Currency:           stripe.String(tender.Amount.Currency.StripeCode()),
		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}),
		CaptureMethod:      stripe.String(t.captureMethod()),
		Confirm:            stripe.Bool(true),
	}
	p.AddMetadata("order_id", o.ID())
	p.AddMetadata("lane", o.Lane())
	p.AddMetadata(refKey, ref)
	p.AddMetadata("offline", "true")
	p.AddExpand("latest_charge")
	return string(api.Encode(p)), nil
}

// withPayload is an offline creation's form with the reader's payload.
func withPayload(form, ref string, payload []byte) string {
	v := url.Values{}
	v.Set("payment_method_data[type]", "card_present")
	v.Set("payment_method_data[card_present][reader_payload]", base64.StdEncoding.EncodeToString(payload))
	v.Set("payment_method_data[card_present][offline_reference]", offlineCollectID(ref))
	if form == "" {
		return v.Encode()
	}
	return form + "&" + v.Encode()
}

// offlineTender finds the order's offline payment ref.
func offlineTender(o *order.Order, ref string) (order.Tender, bool) {
	for _, tn := range o.Tenders() {
		if tn.Payment != nil && tn.Payment.Offline && tn.Payment.Ref == ref {
			return tn, true
		}
	}
	return order.Tender{}, false
}

// OfflineStatus is what the status bar says about payments stored
// offline.
type OfflineStatus struct {
	Count   int
	Amounts []money.Money // per currency
	Oldest  time.Time
	Overdue bool // the oldest is older than the store's limit
}

// offlineStatus summarises the stored payments.
func (t *Till) offlineStatus(list []storedPayment) OfflineStatus {
	var st OfflineStatus
	for _, s := range list {
		st.Count++
		if st.Oldest.IsZero() || s.At.Before(st.Oldest) {
			st.Oldest = s.At
		}
		found := false
		for i := range st.Amounts {
			if st.Amounts[i].Currency == s.Amount.Currency {
				st.Amounts[i].Amount += s.Amount.Amount
				found = true
			}
		}
		if !found {
			st.Amounts = append(st.Amounts, s.Amount)
		}
	}
	st.Overdue = st.Count > 0 && t.now().Sub(st.Oldest) > t.cfg.Offline.maxAge()
	return st
}

// formatAmounts joins amounts in several currencies for people.
func formatAmounts(ms []money.Money, tag language.Tag) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Format(tag)
	}
	return strings.Join(parts, " + ")
}
