package order

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tillpos/till/app/money"
)

// SchemaVersion is the "v" field Marshal writes. Unmarshal reads exactly
// this version; anything else is ErrUnsupportedVersion.
const SchemaVersion = 1

// MaxEncodedSize bounds what Unmarshal accepts (a 500-line order is about
// 150 KiB).
const MaxEncodedSize = 4 << 20

// wire is the stored form (schema version 1). Totals are stored so that a
// reader without this package sees them, and are checked against a
// recomputation on decode.
type wire struct {
	V            int         `json:"v"`
	ID           string      `json:"id"`
	Lane         string      `json:"lane"`
	Status       Status      `json:"status"`
	Config       Config      `json:"config"`
	Cart         Cart        `json:"cart"`
	Totals       Totals      `json:"totals"`
	CashRounding money.Money `json:"cash_rounding"`
	Tenders      []Tender    `json:"tenders"`
	NextLine     int         `json:"next_line"`
	NextTender   int         `json:"next_tender"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	CompletedAt  time.Time   `json:"completed_at,omitzero"`
	VoidedAt     time.Time   `json:"voided_at,omitzero"`
	VoidReason   string      `json:"void_reason,omitempty"`
	Customer     *Customer   `json:"customer,omitempty"`
}

// Marshal encodes the order for storage: JSON with "v": 1. The store keeps
// it as opaque bytes keyed by ID.
func (o *Order) Marshal() ([]byte, error) {
	w := wire{
		V: SchemaVersion, ID: o.id, Lane: o.lane, Status: o.status, Config: o.config,
		Cart: o.cart, Totals: o.totals, CashRounding: o.cashRounding, Tenders: o.tenders,
		NextLine: o.nextLine, NextTender: o.nextTender,
		CreatedAt: o.createdAt, UpdatedAt: o.updatedAt, CompletedAt: o.completedAt,
		VoidedAt: o.voidedAt, VoidReason: o.voidReason, Customer: o.customer,
	}
	if w.Cart.Lines == nil {
		w.Cart.Lines = []Line{}
	}
	if w.Tenders == nil {
		w.Tenders = []Tender{}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("order %s: marshal: %w", o.id, err)
	}
	return b, nil
}

// Unmarshal decodes bytes written by Marshal. clock serves the order's
// later changes (an open order restored after a restart); it must not be
// nil. Anything that is not a consistent order is an error, never a panic
// nor a half-valid order: unknown or missing schema version
// (ErrUnsupportedVersion); anything else wraps ErrCorrupt: unknown fields,
// bad ids, statuses, currencies, or stored totals that differ from a
// recomputation of the lines.
func Unmarshal(data []byte, clock func() time.Time) (*Order, error) {
	if clock == nil {
		return nil, errors.New("order: unmarshal: nil clock")
	}
	if len(data) > MaxEncodedSize {
		return nil, fmt.Errorf("order: unmarshal: %d bytes, more than %d: %w", len(data), MaxEncodedSize, ErrCorrupt)
	}
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("order: unmarshal: %w: %w", ErrCorrupt, err)
	}
	if head.V == nil {
		return nil, fmt.Errorf("order: unmarshal: no schema version: %w", ErrUnsupportedVersion)
	}
	if *head.V != SchemaVersion {
		return nil, fmt.Errorf("order: unmarshal: schema version %d, this Till reads %d (written by a newer Till?): %w", *head.V, SchemaVersion, ErrUnsupportedVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("order: unmarshal: %w: %w", ErrCorrupt, err)
	}
	o := &Order{
		id: w.ID, lane: w.Lane, config: w.Config, status: w.Status, cart: w.Cart,
		totals: w.Totals, cashRounding: w.CashRounding, tenders: w.Tenders,
		nextLine: w.NextLine, nextTender: w.NextTender,
		createdAt: w.CreatedAt, updatedAt: w.UpdatedAt, completedAt: w.CompletedAt,
		voidedAt: w.VoidedAt, voidReason: w.VoidReason, customer: w.Customer, clock: clock,
	}
	if err := o.check(); err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("order: unmarshal %q: %w", w.ID, err)
	}
	return o, nil
}

// check verifies every invariant an order maintains.
func (o *Order) check() error {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
	}
	lane, _, err := SplitID(o.id)
	if err != nil {
		return err
	}
	if lane != o.lane {
		return corrupt("id lane %q differs from lane %q", lane, o.lane)
	}
	if !o.status.valid() {
		return corrupt("status %q", o.status)
	}
	if err := o.config.Validate(); err != nil {
		return err
	}
	cur := o.config.Currency
	if len(o.cart.Lines) > o.config.maxLines() {
		return corrupt("%d lines", len(o.cart.Lines))
	}
	seen := map[int]bool{}
	for _, l := range o.cart.Lines {
		if l.ID < 1 || l.ID > o.nextLine || seen[l.ID] {
			return corrupt("line id %d (next %d)", l.ID, o.nextLine)
		}
		seen[l.ID] = true
	}
	totals, err := o.cart.Totals(o.config)
	if err != nil {
		return err
	}
	if !totalsEqual(totals, o.totals) {
		return corrupt("stored totals differ from the lines")
	}
	if o.cashRounding.Currency != cur {
		return corrupt("cash rounding %v", o.cashRounding)
	}
	var paid int64
	seen = map[int]bool{}
	for _, t := range o.tenders {
		if t.ID < 1 || t.ID > o.nextTender || seen[t.ID] {
			return corrupt("tender id %d (next %d)", t.ID, o.nextTender)
		}
		seen[t.ID] = true
		// A cash tender may be 0 when cash rounding alone settled a
		// remainder below half the smallest coin.
		if !t.Kind.valid() || t.Amount.Currency != cur || t.Amount.Amount < 0 || (t.Amount.Amount == 0 && t.Kind != TenderCash) {
			return corrupt("tender %d: %s %v", t.ID, t.Kind, t.Amount)
		}
		if t.Kind == TenderCash {
			if t.Cash == nil || t.Payment != nil || t.Cash.Given.Currency != cur || t.Cash.Change.Currency != cur ||
				t.Cash.Change.Amount < 0 || t.Cash.Given.Amount-t.Cash.Change.Amount != t.Amount.Amount {
				return corrupt("cash tender %d", t.ID)
			}
		} else if t.Payment == nil || t.Cash != nil || t.Payment.PaymentIntentID == "" && !t.Payment.Offline || !t.Payment.Status.valid() ||
			t.Payment.Failed && t.Payment.Status.Secured() {
			return corrupt("%s tender %d", t.Kind, t.ID)
		} else if p := t.Payment; p.Offline && (t.Kind != TenderCard || p.Ref == "" || p.StoredAt.IsZero()) ||
			len(p.Stored) > 0 && (!p.Offline || p.PaymentIntentID != "") || p.Forwarding() && len(p.Stored) == 0 ||
			p.Refunded && (!o.VoidedAfterPayment() || p.Status != PaymentSucceeded) {
			return corrupt("%s tender %d: offline or refund fields", t.Kind, t.ID)
		}
		if t.Counts() {
			var ok bool
			if paid, ok = money.AddInt64(paid, t.Amount.Amount); !ok {
				return corrupt("tenders overflow")
			}
		}
	}
	due, ok := money.AddInt64(o.totals.Total.Amount, o.cashRounding.Amount)
	if !ok {
		return corrupt("due amount overflows")
	}
	switch {
	case o.createdAt.IsZero() || o.updatedAt.Before(o.createdAt):
		return corrupt("timestamps")
	case o.status == StatusCompleted && (o.completedAt.IsZero() || paid < due && !o.PaymentFailed() || len(o.cart.Lines) == 0):
		return corrupt("completed order not paid or without lines")
	case o.status != StatusCompleted && o.status != StatusVoided && !o.completedAt.IsZero():
		return corrupt("completion time on a %s order", o.status)
	case o.status == StatusVoided && o.voidedAt.IsZero(), o.status != StatusVoided && !o.voidedAt.IsZero(),
		!o.completedAt.IsZero() && !o.voidedAt.IsZero() && o.voidedAt.Before(o.completedAt):
		return corrupt("void time on a %s order", o.status)
	case o.status == StatusTendering && len(o.cart.Lines) == 0:
		return corrupt("tendering order without lines")
	case o.customer != nil && o.customer.ID == "":
		return corrupt("customer without id")
	}
	return nil
}

// totalsEqual compares totals structurally (Totals holds slices).
func totalsEqual(a, b Totals) bool {
	if a.Subtotal != b.Subtotal || a.LineDiscounts != b.LineDiscounts || a.CartDiscount != b.CartDiscount ||
		a.Discounts != b.Discounts || a.Net != b.Net || a.Tax != b.Tax || a.Total != b.Total ||
		len(a.ByRate) != len(b.ByRate) || len(a.Lines) != len(b.Lines) {
		return false
	}
	for i := range a.ByRate {
		if a.ByRate[i] != b.ByRate[i] {
			return false
		}
	}
	for i := range a.Lines {
		if a.Lines[i] != b.Lines[i] {
			return false
		}
	}
	return true
}
