package order

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/app/money"
)

// The after-sale mutators (afterpay.go) and SettlePayment are exercised
// here through small "ops" on a handful of prepared orders. The same ops
// drive the table test and FuzzAfterPay, whose seeds are the table's
// cases encoded as bytes.

// Roles name the tenders of a fixture; a role the fixture lacks maps to a
// tender id no order has.
const (
	rOffline  = iota // card taken offline, not yet forwarded
	rOffline2        // a second one
	rAuth            // card authorised online, awaiting capture
	rCaptured        // card captured online
	rSEPA            // SEPA debit being processed
	rCash            // cash
	rNone            // no such tender
	nRoles
)

// statuses indexes the statuses an op may name; the last is invalid.
var statuses = []PaymentStatus{
	PaymentRequiresPaymentMethod, PaymentRequiresConfirmation, PaymentRequiresAction,
	PaymentProcessing, PaymentRequiresCapture, PaymentSucceeded, PaymentCanceled, "approved",
}

func st(s PaymentStatus) byte {
	for i, x := range statuses {
		if x == s {
			return byte(i)
		}
	}
	panic("unknown status " + s)
}

// forwardPIs indexes the PaymentIntent ids RecordForward may be given:
// fresh ones, an empty one, one another tender already has, a too long one.
var forwardPIs = []string{"pi_fwd1", "pi_fwd2", "", "pi_auth", strings.Repeat("p", 256)}

const (
	piFwd1 = iota
	piFwd2
	piEmpty
	piTaken
	piLong
)

// withDecline in an op's arg hands a Decline to RecordForward or
// SettlePayment.
const withDecline = 0x80

var testDecline = Decline{Code: "insufficient_funds", Message: "Your card has insufficient funds."}

// deadlineBase is the start of the capture deadlines SetCaptureBefore is
// given, in a zone other than UTC so that normalisation shows.
var deadlineBase = time.Date(2026, 11, 30, 10, 0, 0, 0, time.FixedZone("CET", 3600))

type opKind byte

const (
	opForward       opKind = iota // RecordForward(role, forwardPIs[arg&0x7f], status, arg&withDecline)
	opCaptureBefore               // SetCaptureBefore(role, zero if arg == 0, else deadlineBase + arg minutes)
	opSettle                      // SettlePayment(role, status, arg&withDecline)
	opVoidPaid                    // VoidPaid
	opRefund                      // MarkRefunded(role)
	nOpKinds
)

// op is one mutation, four bytes in FuzzAfterPay's input.
type op struct{ kind, role, status, arg byte }

func forward(role int, pi int, s PaymentStatus, decline bool) op {
	a := byte(pi)
	if decline {
		a |= withDecline
	}
	return op{byte(opForward), byte(role), st(s), a}
}

func captureBefore(role int, minutes byte) op {
	return op{byte(opCaptureBefore), byte(role), 0, minutes}
}

func settle(role int, s PaymentStatus, decline bool) op {
	var a byte
	if decline {
		a = withDecline
	}
	return op{byte(opSettle), byte(role), st(s), a}
}

func voidPaid() op       { return op{kind: byte(opVoidPaid)} }
func refund(role int) op { return op{kind: byte(opRefund), role: byte(role)} }

// fixture is a prepared order and its tenders by role.
type fixture struct {
	o   *Order
	clk *fakeClock
	ids [nRoles]int
}

func (f *fixture) tender(t *testing.T, role int) Tender {
	t.Helper()
	for _, tn := range f.o.Tenders() {
		if tn.ID == f.ids[role] {
			return tn
		}
	}
	t.Fatalf("no tender for role %d", role)
	return Tender{}
}

func (f *fixture) apply(o op) error {
	id := f.ids[int(o.role)%nRoles]
	s := statuses[int(o.status)%len(statuses)]
	var d *Decline
	if o.arg&withDecline != 0 {
		dd := testDecline
		d = &dd
	}
	switch opKind(o.kind) % nOpKinds {
	case opForward:
		return f.o.RecordForward(id, forwardPIs[int(o.arg&^withDecline)%len(forwardPIs)], s, d)
	case opCaptureBefore:
		var at time.Time
		if o.arg != 0 {
			at = deadlineBase.Add(time.Duration(o.arg) * time.Minute)
		}
		return f.o.SetCaptureBefore(id, at)
	case opSettle:
		return f.o.SettlePayment(id, s, d)
	case opVoidPaid:
		// As the app does: void, then drop the offline payments whose
		// forwarding was never tried (here: all of them).
		if err := f.o.VoidPaid("wrong item rung up"); err != nil {
			return err
		}
		for _, tn := range f.o.Tenders() {
			if tn.Payment.Forwarding() {
				if err := f.o.DropStored(tn.ID); err != nil {
					return err
				}
			}
		}
		return nil
	default:
		return f.o.MarkRefunded(id)
	}
}

// sealed stands for a reader payload sealed with the install key.
var sealed = []byte("\x01sealed-payload\x00\xff")

func offlinePayment(ref string, at time.Time) Payment {
	return Payment{
		Status: PaymentRequiresConfirmation, Method: "card_present", Brand: "visa", Last4: "4242",
		Offline: true, Ref: ref, Stored: bytes.Clone(sealed), StoredAt: at.UTC(),
	}
}

// fixtures names the prepared orders; an op sequence's first byte picks
// one. Every order rings up two Irish Coffees (CHF 19.00).
var fixtures = []string{"offline", "split", "sepa", "tendering", "open", "voided"}

const (
	fxOffline = iota
	fxSplit
	fxSEPA
	fxTendering
	fxOpen
	fxVoided
)

func newFixture(t testing.TB, which int) *fixture {
	t.Helper()
	clk := newClock()
	lane, err := NewLane("L1", incCHF, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	o, err := lane.NewOrder()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{o: o, clk: clk}
	for r := range f.ids {
		f.ids[r] = 99 // no such tender unless set below
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture %s: %v", fixtures[which], err)
		}
	}
	pay := func(role int, kind TenderKind, amount money.Money, p Payment) {
		t.Helper()
		tn, err := o.AddPayment(kind, amount, p)
		check(err)
		f.ids[role] = tn.ID
	}
	cash := func(amount int64) {
		t.Helper()
		tn, err := o.AddCash(chf(amount), nil)
		check(err)
		f.ids[rCash] = tn.ID
	}
	_, err = o.AddProduct(irish, 2)
	check(err)
	check(o.StartTendering())
	switch which {
	case fxOffline:
		pay(rOffline, TenderCard, chf(1900), offlinePayment("off-1", clk.Now()))
		check(o.Complete())
	case fxSplit:
		cash(300)
		pay(rOffline, TenderCard, chf(400), offlinePayment("off-1", clk.Now()))
		pay(rOffline2, TenderCard, chf(400), offlinePayment("off-2", clk.Now()))
		pay(rAuth, TenderCard, chf(400), Payment{PaymentIntentID: "pi_auth", Status: PaymentRequiresCapture, Brand: "visa", Last4: "4242"})
		pay(rCaptured, TenderTwint, chf(400), Payment{PaymentIntentID: "pi_cap", Status: PaymentSucceeded, Method: "twint"})
		check(o.Complete())
	case fxSEPA:
		cash(500)
		pay(rSEPA, TenderSEPADebit, chf(1400), Payment{PaymentIntentID: "pi_sepa", Status: PaymentProcessing, Method: "sepa_debit", SavedMethod: "pm_1"})
		check(o.Complete())
	case fxTendering:
		pay(rOffline, TenderCard, chf(500), offlinePayment("off-1", clk.Now()))
		pay(rAuth, TenderCard, chf(500), Payment{PaymentIntentID: "pi_auth", Status: PaymentRequiresCapture})
	case fxOpen:
		pay(rAuth, TenderCard, chf(1900), Payment{PaymentIntentID: "pi_auth", Status: PaymentRequiresPaymentMethod})
		check(o.BackToCart())
	case fxVoided:
		pay(rOffline, TenderCard, chf(500), offlinePayment("off-1", clk.Now()))
		check(o.Void("customer left"))
	default:
		t.Fatalf("no fixture %d", which)
	}
	return f
}

// roundTrip checks the order survives Marshal and Unmarshal unchanged.
func roundTrip(t testing.TB, o *Order) {
	t.Helper()
	b, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(b, newClock().Now)
	if err != nil {
		t.Fatalf("the codec refuses a state the mutators produced: %v\n%s", err, b)
	}
	b2, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the encoding:\n%s\n%s", b, b2)
	}
	switch {
	case back.Status() != o.Status(), back.VoidedAfterPayment() != o.VoidedAfterPayment(),
		back.PaymentPending() != o.PaymentPending(), back.PaymentFailed() != o.PaymentFailed(),
		back.Paid() != o.Paid(), back.VoidReason() != o.VoidReason(),
		!back.CompletedAt().Equal(o.CompletedAt()), !back.VoidedAt().Equal(o.VoidedAt()),
		!back.UpdatedAt().Equal(o.UpdatedAt()):
		t.Fatalf("decoded order differs:\n%s", b)
	}
	if got, want := back.Tenders(), o.Tenders(); !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded tenders differ:\n got %+v\nwant %+v", payments(got), payments(want))
	}
}

func payments(ts []Tender) []Payment {
	var out []Payment
	for _, t := range ts {
		if t.Payment != nil {
			out = append(out, *t.Payment)
		}
	}
	return out
}

// invariants are what every order the mutators leave must satisfy.
func invariants(t testing.TB, o *Order) {
	t.Helper()
	for _, tn := range o.Tenders() {
		p := tn.Payment
		if p == nil {
			continue
		}
		if p.PaymentIntentID != "" && len(p.Stored) != 0 {
			t.Fatalf("tender %d keeps its sealed payload after reaching PaymentIntent %s", tn.ID, p.PaymentIntentID)
		}
		if p.Failed && p.Status.Secured() {
			t.Fatalf("tender %d is failed yet %s", tn.ID, p.Status)
		}
		if p.Refunded && (!o.VoidedAfterPayment() || p.Status != PaymentSucceeded) {
			t.Fatalf("tender %d refunded while %s on a %s order", tn.ID, p.Status, o.Status())
		}
		if p.Forwarding() && o.VoidedAfterPayment() {
			t.Fatalf("tender %d still to be forwarded on a sale voided after payment", tn.ID)
		}
	}
	if o.VoidedAfterPayment() && o.CompletedAt().After(o.VoidedAt()) {
		t.Fatalf("completed %v after voided %v", o.CompletedAt(), o.VoidedAt())
	}
}

// sentinels are the errors a refused after-sale mutation may wrap.
var sentinels = []error{ErrInvalidTransition, ErrInvalidTender, ErrNoSuchTender, ErrImmutable}

type afterPayCase struct {
	name    string
	fixture int
	steps   []op  // all but the last must succeed
	err     error // of the last step
	check   func(t *testing.T, f *fixture)
}

func afterPayCases() []afterPayCase {
	forwarded := func(role int, pi string, s PaymentStatus) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			p := f.tender(t, role).Payment
			if p.PaymentIntentID != pi || p.Status != s || p.Stored != nil || p.Failed || p.Decline != nil ||
				!p.Offline || p.Ref != "off-1" || p.Forwarding() {
				t.Fatalf("forwarded payment = %+v", p)
			}
			if f.o.PaymentFailed() || f.o.Status() != StatusCompleted {
				t.Fatalf("order %s, failed %v", f.o.Status(), f.o.PaymentFailed())
			}
		}
	}
	declined := func(s PaymentStatus, d *Decline) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			p := f.tender(t, rOffline).Payment
			if p.PaymentIntentID != "pi_fwd1" || p.Status != s || !p.Failed || p.Stored != nil || p.Forwarding() ||
				!reflect.DeepEqual(p.Decline, d) {
				t.Fatalf("declined forward = %+v (decline %+v)", p, p.Decline)
			}
			if !f.o.PaymentFailed() || f.o.Status() != StatusCompleted {
				t.Fatalf("order %s, failed %v", f.o.Status(), f.o.PaymentFailed())
			}
		}
	}
	unchangedSince := func(step int) func(t *testing.T, f *fixture) {
		// The clock moves one minute before each step.
		return func(t *testing.T, f *fixture) {
			want := newClock().Now().Add(time.Duration(step+1) * time.Minute)
			if !f.o.UpdatedAt().Equal(want) {
				t.Fatalf("updated %v, want %v (step %d)", f.o.UpdatedAt(), want, step)
			}
		}
	}
	status := func(role int, s PaymentStatus, failed bool) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			p := f.tender(t, role).Payment
			if p.Status != s || p.Failed != failed || !p.CaptureBefore.IsZero() {
				t.Fatalf("payment = %+v, want %s failed %v without a deadline", p, s, failed)
			}
		}
	}
	return []afterPayCase{
		// RecordForward.
		{name: "forward authorised", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false)},
			check: forwarded(rOffline, "pi_fwd1", PaymentRequiresCapture)},
		{name: "forward captured", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentSucceeded, false)},
			check: forwarded(rOffline, "pi_fwd1", PaymentSucceeded)},
		{name: "forward processing", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentProcessing, false)},
			check: func(t *testing.T, f *fixture) {
				forwarded(rOffline, "pi_fwd1", PaymentProcessing)(t, f)
				if !f.o.PaymentPending() {
					t.Fatal("a forwarded payment being processed is not pending")
				}
			}},
		{name: "forward in a split sale", fixture: fxSplit,
			steps: []op{forward(rOffline2, piFwd2, PaymentSucceeded, false)},
			check: func(t *testing.T, f *fixture) {
				if p := f.tender(t, rOffline2).Payment; p.PaymentIntentID != "pi_fwd2" || p.Stored != nil {
					t.Fatalf("forwarded = %+v", p)
				}
				if p := f.tender(t, rOffline).Payment; !p.Forwarding() || !bytes.Equal(p.Stored, sealed) {
					t.Fatalf("the other offline payment changed: %+v", p)
				}
			}},
		{name: "forward declined", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresPaymentMethod, true)},
			check: declined(PaymentRequiresPaymentMethod, &testDecline)},
		{name: "forward cancelled without a reason", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentCanceled, false)},
			check: declined(PaymentCanceled, nil)},
		{name: "forward repeated", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false), forward(rOffline, piFwd1, PaymentRequiresCapture, false)},
			check: unchangedSince(0)},
		{name: "forward decline repeated", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresPaymentMethod, true), forward(rOffline, piFwd1, PaymentRequiresPaymentMethod, true)},
			check: unchangedSince(0)},
		// Once forwarded, where it goes is a settlement (SettlePayment),
		// never a second forward.
		{name: "forward then forward again as captured", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false), forward(rOffline, piFwd1, PaymentSucceeded, false)},
			err:   ErrInvalidTransition},
		{name: "forward as another PaymentIntent", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false), forward(rOffline, piFwd2, PaymentRequiresCapture, false)},
			err:   ErrInvalidTransition},
		{name: "forward an online payment", fixture: fxSplit,
			steps: []op{forward(rAuth, piFwd1, PaymentSucceeded, false)}, err: ErrInvalidTransition},
		{name: "forward while tendering", fixture: fxTendering,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false)}, err: ErrInvalidTransition},
		{name: "forward on a voided sale", fixture: fxVoided,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false)}, err: ErrInvalidTransition},
		{name: "forward after void after payment", fixture: fxSplit,
			steps: []op{voidPaid(), forward(rOffline, piFwd1, PaymentRequiresCapture, false)}, err: ErrInvalidTransition},
		{name: "forward without PaymentIntent", fixture: fxOffline,
			steps: []op{forward(rOffline, piEmpty, PaymentRequiresCapture, false)}, err: ErrInvalidTender},
		{name: "forward with too long a PaymentIntent", fixture: fxOffline,
			steps: []op{forward(rOffline, piLong, PaymentRequiresCapture, false)}, err: ErrInvalidTender},
		{name: "forward with an unknown status", fixture: fxOffline,
			steps: []op{{byte(opForward), rOffline, st("approved"), piFwd1}}, err: ErrInvalidTender},
		{name: "forward left requiring action", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresAction, false)}, err: ErrInvalidTransition},
		{name: "forward left requiring confirmation", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresConfirmation, false)}, err: ErrInvalidTransition},
		{name: "forward a cash tender", fixture: fxSplit,
			steps: []op{forward(rCash, piFwd1, PaymentSucceeded, false)}, err: ErrNoSuchTender},
		{name: "forward an unknown tender", fixture: fxOffline,
			steps: []op{forward(rNone, piFwd1, PaymentSucceeded, false)}, err: ErrNoSuchTender},

		// SetCaptureBefore.
		{name: "capture deadline", fixture: fxSplit,
			steps: []op{captureBefore(rAuth, 30)},
			check: func(t *testing.T, f *fixture) {
				got := f.tender(t, rAuth).Payment.CaptureBefore
				if want := deadlineBase.Add(30 * time.Minute); !got.Equal(want) || got.Location() != time.UTC {
					t.Fatalf("capture before %v, want %v in UTC", got, want)
				}
			}},
		{name: "capture deadline repeated", fixture: fxSplit,
			steps: []op{captureBefore(rAuth, 30), captureBefore(rAuth, 30)}, check: unchangedSince(0)},
		{name: "capture deadline cleared", fixture: fxSplit,
			steps: []op{captureBefore(rAuth, 30), captureBefore(rAuth, 0)},
			check: func(t *testing.T, f *fixture) {
				if got := f.tender(t, rAuth).Payment.CaptureBefore; !got.IsZero() {
					t.Fatalf("capture before %v", got)
				}
			}},
		{name: "capture deadline of a forwarded payment", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false), captureBefore(rOffline, 5)}},
		{name: "capture deadline while tendering", fixture: fxTendering,
			steps: []op{captureBefore(rAuth, 5)}},
		{name: "capture deadline of an open order", fixture: fxOpen,
			steps: []op{captureBefore(rAuth, 5)}, err: ErrImmutable},
		{name: "capture deadline of a voided sale", fixture: fxVoided,
			steps: []op{captureBefore(rOffline, 5)}, err: ErrImmutable},
		{name: "capture deadline after void after payment", fixture: fxSplit,
			steps: []op{voidPaid(), captureBefore(rAuth, 5)}, err: ErrImmutable},
		{name: "capture deadline of cash", fixture: fxSplit,
			steps: []op{captureBefore(rCash, 5)}, err: ErrNoSuchTender},

		// SettlePayment.
		{name: "capture settles", fixture: fxSplit,
			steps: []op{captureBefore(rAuth, 30), settle(rAuth, PaymentSucceeded, false)},
			check: status(rAuth, PaymentSucceeded, false)},
		{name: "authorisation lapses", fixture: fxSplit,
			steps: []op{captureBefore(rAuth, 30), settle(rAuth, PaymentCanceled, true)},
			check: func(t *testing.T, f *fixture) {
				status(rAuth, PaymentCanceled, true)(t, f)
				if d := f.tender(t, rAuth).Payment.Decline; d == nil || *d != testDecline {
					t.Fatalf("decline %+v", d)
				}
				if !f.o.PaymentFailed() || f.o.Status() != StatusCompleted {
					t.Fatalf("order %s, failed %v", f.o.Status(), f.o.PaymentFailed())
				}
			}},
		{name: "authorisation cancelled by the void", fixture: fxSplit,
			steps: []op{captureBefore(rAuth, 30), voidPaid(), settle(rAuth, PaymentCanceled, true)},
			check: func(t *testing.T, f *fixture) {
				status(rAuth, PaymentCanceled, false)(t, f)
				if d := f.tender(t, rAuth).Payment.Decline; d != nil || f.o.PaymentFailed() {
					t.Fatalf("a void's own cancel reads as a failure: %+v", d)
				}
			}},
		{name: "authorisation captured after the void", fixture: fxSplit,
			steps: []op{voidPaid(), settle(rAuth, PaymentSucceeded, false)},
			check: status(rAuth, PaymentSucceeded, false)},
		{name: "authorisation settled twice", fixture: fxSplit,
			steps: []op{settle(rAuth, PaymentSucceeded, false), settle(rAuth, PaymentSucceeded, false)},
			check: unchangedSince(0)},
		{name: "authorisation back to requiring a card", fixture: fxSplit,
			steps: []op{settle(rAuth, PaymentRequiresPaymentMethod, true)}, err: ErrInvalidTransition},
		{name: "authorisation to processing", fixture: fxSplit,
			steps: []op{settle(rAuth, PaymentProcessing, false)}, err: ErrInvalidTransition},
		{name: "capture of a forwarded authorisation", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresCapture, false), captureBefore(rOffline, 9), settle(rOffline, PaymentSucceeded, false)},
			check: status(rOffline, PaymentSucceeded, false)},
		{name: "settle an offline payment not forwarded", fixture: fxOffline,
			steps: []op{settle(rOffline, PaymentSucceeded, false)}, err: ErrInvalidTransition},
		{name: "settle a captured payment", fixture: fxSplit,
			steps: []op{settle(rCaptured, PaymentCanceled, false)}, err: ErrInvalidTransition},
		{name: "debit succeeds", fixture: fxSEPA,
			steps: []op{settle(rSEPA, PaymentSucceeded, false)},
			check: func(t *testing.T, f *fixture) {
				status(rSEPA, PaymentSucceeded, false)(t, f)
				if f.o.PaymentPending() {
					t.Fatal("still pending")
				}
			}},
		{name: "debit returned", fixture: fxSEPA,
			steps: []op{settle(rSEPA, PaymentRequiresPaymentMethod, true)},
			check: func(t *testing.T, f *fixture) {
				status(rSEPA, PaymentRequiresPaymentMethod, true)(t, f)
				if !f.o.PaymentFailed() || f.o.Paid() != chf(500) {
					t.Fatalf("failed %v, paid %v", f.o.PaymentFailed(), f.o.Paid())
				}
			}},
		{name: "settle while tendering", fixture: fxTendering,
			steps: []op{settle(rAuth, PaymentSucceeded, false)}, err: ErrInvalidTransition},
		{name: "settle an open order", fixture: fxOpen,
			steps: []op{settle(rAuth, PaymentSucceeded, false)}, err: ErrInvalidTransition},
		{name: "settle a voided sale", fixture: fxVoided,
			steps: []op{settle(rOffline, PaymentCanceled, false)}, err: ErrInvalidTransition},
		{name: "settle cash", fixture: fxSplit,
			steps: []op{settle(rCash, PaymentSucceeded, false)}, err: ErrNoSuchTender},

		// VoidPaid.
		{name: "void after payment", fixture: fxSplit,
			steps: []op{voidPaid()},
			check: func(t *testing.T, f *fixture) {
				o := f.o
				if o.Status() != StatusVoided || !o.VoidedAfterPayment() || o.CompletedAt().IsZero() ||
					!o.VoidedAt().Equal(f.clk.Now()) || o.VoidReason() != "wrong item rung up" {
					t.Fatalf("status %s, completed %v, voided %v (%q)", o.Status(), o.CompletedAt(), o.VoidedAt(), o.VoidReason())
				}
				for _, role := range []int{rOffline, rOffline2} {
					p := f.tender(t, role).Payment
					if p.Status != PaymentCanceled || p.Stored != nil || p.Forwarding() || p.Failed || p.PaymentIntentID != "" || p.Ref == "" {
						t.Fatalf("offline payment after the void: %+v", p)
					}
				}
				if p := f.tender(t, rAuth).Payment; p.Status != PaymentRequiresCapture {
					t.Fatalf("the void changed an authorisation: %+v", p)
				}
				if p := f.tender(t, rCaptured).Payment; p.Status != PaymentSucceeded || p.Refunded {
					t.Fatalf("the void changed a capture: %+v", p)
				}
				if o.PaymentFailed() {
					t.Fatal("a voided sale reads as a failed payment")
				}
			}},
		{name: "void a forwarded sale", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentSucceeded, false), voidPaid()},
			check: func(t *testing.T, f *fixture) {
				if p := f.tender(t, rOffline).Payment; p.Status != PaymentSucceeded || p.PaymentIntentID != "pi_fwd1" {
					t.Fatalf("the void changed a forwarded payment: %+v", p)
				}
			}},
		{name: "void a sale whose forward was declined", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentRequiresPaymentMethod, true), voidPaid()},
			check: func(t *testing.T, f *fixture) {
				if p := f.tender(t, rOffline).Payment; p.Status != PaymentRequiresPaymentMethod || !p.Failed {
					t.Fatalf("the void changed a declined payment: %+v", p)
				}
			}},
		{name: "void while a debit is processed", fixture: fxSEPA,
			steps: []op{voidPaid()}, err: ErrInvalidTransition},
		{name: "void while a forwarded payment is processed", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentProcessing, false), voidPaid()}, err: ErrInvalidTransition},
		{name: "void after the debit settled", fixture: fxSEPA,
			steps: []op{settle(rSEPA, PaymentSucceeded, false), voidPaid()}},
		{name: "void after the debit returned", fixture: fxSEPA,
			steps: []op{settle(rSEPA, PaymentRequiresPaymentMethod, true), voidPaid()}},
		{name: "void after payment twice", fixture: fxSplit,
			steps: []op{voidPaid(), voidPaid()}, err: ErrInvalidTransition},
		{name: "void after payment of an open order", fixture: fxOpen,
			steps: []op{voidPaid()}, err: ErrInvalidTransition},
		{name: "void after payment while tendering", fixture: fxTendering,
			steps: []op{voidPaid()}, err: ErrInvalidTransition},
		{name: "void after payment of a voided sale", fixture: fxVoided,
			steps: []op{voidPaid()}, err: ErrInvalidTransition},

		// MarkRefunded.
		{name: "refund a capture", fixture: fxSplit,
			steps: []op{voidPaid(), refund(rCaptured)},
			check: func(t *testing.T, f *fixture) {
				if p := f.tender(t, rCaptured).Payment; !p.Refunded || p.Status != PaymentSucceeded {
					t.Fatalf("refunded payment = %+v", p)
				}
			}},
		{name: "refund repeated", fixture: fxSplit,
			steps: []op{voidPaid(), refund(rCaptured), refund(rCaptured)}, check: unchangedSince(1)},
		{name: "refund a forwarded capture", fixture: fxOffline,
			steps: []op{forward(rOffline, piFwd1, PaymentSucceeded, false), voidPaid(), refund(rOffline)},
			check: func(t *testing.T, f *fixture) {
				if p := f.tender(t, rOffline).Payment; !p.Refunded {
					t.Fatalf("refunded payment = %+v", p)
				}
			}},
		{name: "refund a capture that raced the void", fixture: fxSplit,
			steps: []op{voidPaid(), settle(rAuth, PaymentSucceeded, false), refund(rAuth)}},
		{name: "refund on a completed sale", fixture: fxSplit,
			steps: []op{refund(rCaptured)}, err: ErrInvalidTransition},
		{name: "refund an authorisation", fixture: fxSplit,
			steps: []op{voidPaid(), refund(rAuth)}, err: ErrInvalidTransition},
		{name: "refund a dropped offline payment", fixture: fxSplit,
			steps: []op{voidPaid(), refund(rOffline)}, err: ErrInvalidTransition},
		{name: "refund a returned debit", fixture: fxSEPA,
			steps: []op{settle(rSEPA, PaymentRequiresPaymentMethod, true), voidPaid(), refund(rSEPA)}, err: ErrInvalidTransition},
		{name: "refund cash", fixture: fxSplit,
			steps: []op{voidPaid(), refund(rCash)}, err: ErrNoSuchTender},
		{name: "refund an unknown tender", fixture: fxSplit,
			steps: []op{voidPaid(), refund(rNone)}, err: ErrNoSuchTender},
		{name: "refund on a sale voided before payment", fixture: fxVoided,
			steps: []op{refund(rOffline)}, err: ErrInvalidTransition},
		{name: "refund while tendering", fixture: fxTendering,
			steps: []op{refund(rAuth)}, err: ErrInvalidTransition},
	}
}

// TestAfterPay runs every after-sale transition and refusal. A refused
// step leaves the order byte for byte as it was; every state reached
// round-trips through the codec.
func TestAfterPay(t *testing.T) {
	for _, tc := range afterPayCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fixture)
			roundTrip(t, f.o)
			for i, s := range tc.steps {
				f.clk.Add(time.Minute)
				before, err := f.o.Marshal()
				must(t, err)
				err = f.apply(s)
				if i < len(tc.steps)-1 {
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				} else if !errors.Is(err, tc.err) || tc.err == nil && err != nil {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if err != nil {
					if !strings.Contains(err.Error(), f.o.ID()) {
						t.Errorf("error %q does not name the order", err)
					}
					after, _ := f.o.Marshal()
					if !bytes.Equal(before, after) {
						t.Fatalf("a refused step changed the order:\n%s\n%s", before, after)
					}
				}
				roundTrip(t, f.o)
				invariants(t, f.o)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

// TestOfflineTender: a card payment taken offline is recorded without a
// PaymentIntent, completes the sale, and is refused without what forwards
// it or for anything but a card.
func TestOfflineTender(t *testing.T) {
	at := newClock().Now()
	bad := []struct {
		name string
		kind TenderKind
		p    func(p *Payment)
	}{
		{"no reference", TenderCard, func(p *Payment) { p.Ref = "" }},
		{"too long a reference", TenderCard, func(p *Payment) { p.Ref = strings.Repeat("r", 65) }},
		{"no sealed payload", TenderCard, func(p *Payment) { p.Stored = nil }},
		{"empty sealed payload", TenderCard, func(p *Payment) { p.Stored = []byte{} }},
		{"not when taken", TenderCard, func(p *Payment) { p.StoredAt = time.Time{} }},
		{"twint", TenderTwint, func(*Payment) {}},
		{"mobilepay", TenderMobilePay, func(*Payment) {}},
		{"sepa debit", TenderSEPADebit, func(*Payment) {}},
		{"not offline", TenderCard, func(p *Payment) { p.Offline = false }},
		{"bad status", TenderCard, func(p *Payment) { p.Status = "approved" }},
	}
	o, _ := newOrder(t)
	_, err := o.AddProduct(irish, 2)
	must(t, err)
	must(t, o.StartTendering())
	before, err := o.Marshal()
	must(t, err)
	for _, tt := range bad {
		p := offlinePayment("off-1", at)
		tt.p(&p)
		if _, err := o.AddPayment(tt.kind, chf(1900), p); !errors.Is(err, ErrInvalidTender) {
			t.Errorf("%s: err = %v, want ErrInvalidTender", tt.name, err)
		}
		if after, _ := o.Marshal(); !bytes.Equal(before, after) {
			t.Fatalf("%s: the refused payment changed the order", tt.name)
		}
	}

	in := offlinePayment("off-1", at)
	tn, err := o.AddPayment(TenderCard, chf(1900), in)
	must(t, err)
	if !tn.Counts() || !tn.Payment.Forwarding() || o.Remaining() != chf(0) {
		t.Fatalf("offline tender %+v counts %v, remaining %v", tn.Payment, tn.Counts(), o.Remaining())
	}
	must(t, o.Complete())
	roundTrip(t, o)

	// Nobody holding a copy reaches the order's sealed payload.
	in.Stored[0] ^= 0xff
	tn.Payment.Stored[1] ^= 0xff
	got := o.Tenders()
	got[0].Payment.Stored[2] ^= 0xff
	got[0].Payment.Stored = append(got[0].Payment.Stored[:0], "overwritten"...)
	if p := o.Tenders()[0].Payment; !bytes.Equal(p.Stored, sealed) || p.Ref != "off-1" || !p.StoredAt.Equal(at) {
		t.Fatalf("the order's payment changed through a copy: %+v", p)
	}
	b, err := o.Marshal()
	must(t, err)
	back, err := Unmarshal(b, newClock().Now)
	must(t, err)
	if p := back.Tenders()[0].Payment; !bytes.Equal(p.Stored, sealed) || !p.Forwarding() {
		t.Fatalf("decoded offline payment = %+v", p)
	}
}

// TestAfterPayCloneIsolation: tenders handed out before and after the
// after-sale mutators share nothing with the order.
func TestAfterPayCloneIsolation(t *testing.T) {
	f := newFixture(t, fxSplit)
	held := f.o.Tenders()
	must(t, f.o.SettlePayment(f.ids[rAuth], PaymentCanceled, &testDecline))
	must(t, f.o.VoidPaid("test"))
	for _, tn := range f.o.Tenders() {
		if tn.Payment.Forwarding() {
			must(t, f.o.DropStored(tn.ID))
		}
	}
	for _, tn := range held {
		if tn.Payment == nil {
			continue
		}
		tn.Payment.Stored = append(tn.Payment.Stored[:0], 'x')
		if tn.Payment.Decline != nil {
			tn.Payment.Decline.Code = "changed"
		}
		tn.Payment.Status = PaymentSucceeded
	}
	for _, role := range []int{rOffline, rOffline2} {
		if p := f.tender(t, role).Payment; p.Stored != nil || p.Status != PaymentCanceled {
			t.Fatalf("a copy taken before the void reaches the order: %+v", p)
		}
	}
	if p := f.tender(t, rAuth).Payment; p.Status != PaymentCanceled || p.Decline == nil || *p.Decline != testDecline {
		t.Fatalf("a copy taken before settling reaches the order: %+v", p)
	}
	d := Decline{Code: "do_not_honor"}
	g := newFixture(t, fxOffline)
	must(t, g.o.RecordForward(g.ids[rOffline], "pi_fwd1", PaymentRequiresPaymentMethod, &d))
	d.Code = "changed"
	p := g.tender(t, rOffline).Payment
	if p.Decline.Code != "do_not_honor" {
		t.Fatalf("RecordForward kept the caller's Decline: %+v", p.Decline)
	}
	p.Decline.Code = "changed"
	if g.tender(t, rOffline).Payment.Decline.Code != "do_not_honor" {
		t.Fatal("Tenders shares the Decline")
	}
}

func (c afterPayCase) seed() []byte {
	b := []byte{byte(c.fixture)}
	for _, s := range c.steps {
		b = append(b, s.kind, s.role, s.status, s.arg)
	}
	return b
}

// FuzzAfterPay applies random sequences of the after-sale mutators to the
// prepared orders: nothing panics, a refused mutation wraps a sentinel
// and changes nothing, every state round-trips through the codec, and no
// payment keeps its sealed payload once it has a PaymentIntent.
func FuzzAfterPay(f *testing.F) {
	for _, c := range afterPayCases() {
		f.Add(c.seed())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 1+4*32 {
			return
		}
		fx := newFixture(t, int(data[0])%len(fixtures))
		for data = data[1:]; len(data) >= 4; data = data[4:] {
			fx.clk.Add(time.Second)
			before, err := fx.o.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := op{data[0], data[1], data[2], data[3]}
			if err := fx.apply(s); err != nil {
				if !slicesContainsIs(err, sentinels) {
					t.Fatalf("op %+v: error wraps no sentinel: %v", s, err)
				}
				if after, _ := fx.o.Marshal(); !bytes.Equal(before, after) {
					t.Fatalf("op %+v refused yet changed the order:\n%s\n%s", s, before, after)
				}
				continue
			}
			roundTrip(t, fx.o)
			invariants(t, fx.o)
		}
	})
}

func slicesContainsIs(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
