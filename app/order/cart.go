package order

import (
	"fmt"
	"slices"

	"github.com/tillpos/till/app/money"
)

// TaxMode says whether catalog prices include VAT.
type TaxMode string

const (
	// TaxInclusive: shelf prices include VAT (Switzerland, the EU, retail).
	// The VAT in a rate's total S at rate r is S×r/(1+r).
	TaxInclusive TaxMode = "inclusive"
	// TaxExclusive: prices are net and VAT is added at the end (US sales
	// tax, B2B). The VAT on a rate's total S at rate r is S×r.
	TaxExclusive TaxMode = "exclusive"
)

// Defaults for the Config bounds.
const (
	DefaultMaxQuantity = 9_999
	DefaultMaxLines    = 500
)

// Config is the store configuration an order is priced with. It is stored
// with the order so its totals can always be recomputed exactly.
type Config struct {
	Currency money.Currency `json:"currency"`
	TaxMode  TaxMode        `json:"tax_mode"`
	// MaxQuantity bounds one line's quantity; 0 means DefaultMaxQuantity.
	MaxQuantity int64 `json:"max_quantity,omitempty"`
	// MaxLines bounds the number of lines; 0 means DefaultMaxLines.
	MaxLines int `json:"max_lines,omitempty"`
}

func (c Config) maxQuantity() int64 {
	if c.MaxQuantity > 0 {
		return c.MaxQuantity
	}
	return DefaultMaxQuantity
}

func (c Config) maxLines() int {
	if c.MaxLines > 0 {
		return c.MaxLines
	}
	return DefaultMaxLines
}

// Validate checks the currency and tax mode.
func (c Config) Validate() error {
	if c.Currency.IsZero() {
		return fmt.Errorf("order config: %w", money.ErrUnknownCurrency)
	}
	if c.TaxMode != TaxInclusive && c.TaxMode != TaxExclusive {
		return fmt.Errorf("order config: tax mode %q is neither %q nor %q: %w", c.TaxMode, TaxInclusive, TaxExclusive, ErrCorrupt)
	}
	if c.MaxQuantity < 0 || c.MaxLines < 0 {
		return fmt.Errorf("order config: negative bound: %w", ErrCorrupt)
	}
	return nil
}

// DiscountKind is the kind of a Discount.
type DiscountKind string

const (
	NoDiscount      DiscountKind = ""
	DiscountAmount  DiscountKind = "amount"  // a fixed amount off
	DiscountPercent DiscountKind = "percent" // basis points off
)

// Discount is a reduction on a line or on the whole cart: either a fixed
// amount (in the store's price basis: VAT included when prices include it)
// or a percentage in basis points (1000 = 10 %). The zero Discount is none.
type Discount struct {
	Kind        DiscountKind `json:"kind,omitempty"`
	Amount      money.Money  `json:"amount"`
	BasisPoints int64        `json:"bp,omitempty"`
}

// AmountOff returns a fixed-amount discount.
func AmountOff(m money.Money) Discount { return Discount{Kind: DiscountAmount, Amount: m} }

// PercentOff returns a percentage discount in basis points (1500 = 15 %).
func PercentOff(bp int64) Discount { return Discount{Kind: DiscountPercent, BasisPoints: bp} }

// IsZero reports whether d is no discount.
func (d Discount) IsZero() bool { return d.Kind == NoDiscount }

func (d Discount) validate(cur money.Currency) error {
	switch d.Kind {
	case NoDiscount:
		if !d.Amount.IsZero() || d.BasisPoints != 0 {
			return fmt.Errorf("discount without kind has a value: %w", ErrInvalidDiscount)
		}
	case DiscountAmount:
		if d.Amount.Currency != cur {
			return fmt.Errorf("discount %v in an order in %s: %w", d.Amount, cur, money.ErrCurrencyMismatch)
		}
		if d.Amount.Amount < 0 || d.BasisPoints != 0 {
			return fmt.Errorf("discount %v: %w", d.Amount, ErrInvalidDiscount)
		}
	case DiscountPercent:
		if d.BasisPoints < 0 || d.BasisPoints > 10_000 || !d.Amount.IsZero() {
			return fmt.Errorf("discount of %d bp is outside 0-10000: %w", d.BasisPoints, ErrInvalidDiscount)
		}
	default:
		return fmt.Errorf("discount kind %q: %w", d.Kind, ErrInvalidDiscount)
	}
	return nil
}

// of returns the discount on base (≥ 0): the fixed amount, which must not
// exceed base, or base×bp/10000 rounded half-up.
func (d Discount) of(base int64) (int64, error) {
	switch d.Kind {
	case DiscountAmount:
		if d.Amount.Amount > base {
			return 0, fmt.Errorf("discount %v on %v: %w", d.Amount, money.New(base, d.Amount.Currency), ErrDiscountTooLarge)
		}
		return d.Amount.Amount, nil
	case DiscountPercent:
		return money.MulDivRound(base, d.BasisPoints, 10_000)
	}
	return 0, nil
}

// Line is one cart line: a snapshot of the product when it was rung up
// (later catalog changes do not touch it), a quantity and an optional line
// discount, which applies to the whole line, not per unit.
type Line struct {
	ID        int         `json:"id"`
	SKU       string      `json:"sku"`
	Name      string      `json:"name"`
	UnitPrice money.Money `json:"unit_price"`
	TaxRate   int         `json:"tax_rate_bp"`
	Quantity  int64       `json:"qty"`
	Discount  Discount    `json:"discount,omitzero"`
}

// Cart is the lines and the whole-cart discount of an order.
type Cart struct {
	Lines    []Line   `json:"lines"`
	Discount Discount `json:"discount,omitzero"`
}

func (c Cart) clone() Cart {
	return Cart{Lines: slices.Clone(c.Lines), Discount: c.Discount}
}

// LineTotal is one line's share of the totals. In the store's price basis
// Subtotal − LineDiscount − CartDiscount is what the line costs; Net, Tax
// and Total split that into VAT-exclusive, VAT and VAT-inclusive parts.
type LineTotal struct {
	LineID       int         `json:"line"`
	Subtotal     money.Money `json:"subtotal"` // quantity × unit price
	LineDiscount money.Money `json:"line_discount"`
	CartDiscount money.Money `json:"cart_discount"` // allocated share
	Net          money.Money `json:"net"`
	Tax          money.Money `json:"tax"`
	Total        money.Money `json:"total"`
}

// RateTotal is one row of the VAT summary printed on a receipt.
type RateTotal struct {
	Rate  int         `json:"rate_bp"`
	Net   money.Money `json:"net"`
	Tax   money.Money `json:"tax"`
	Gross money.Money `json:"gross"`
}

// Totals of a cart. Subtotal − Discounts is the sum of the lines in the
// store's price basis; Net + Tax = Total; the lines' Net, Tax and Total add
// up exactly to these, and ByRate (ascending rate) to Net, Tax and Total.
type Totals struct {
	Subtotal      money.Money `json:"subtotal"`
	LineDiscounts money.Money `json:"line_discounts"`
	CartDiscount  money.Money `json:"cart_discount"`
	Discounts     money.Money `json:"discounts"`
	Net           money.Money `json:"net"`
	Tax           money.Money `json:"tax"`
	Total         money.Money `json:"total"`
	ByRate        []RateTotal `json:"by_rate"`
	Lines         []LineTotal `json:"lines"`
}

func (t Totals) clone() Totals {
	t.ByRate = slices.Clone(t.ByRate)
	t.Lines = slices.Clone(t.Lines)
	return t
}

// Totals computes the cart's totals under cfg. The rules:
//
//  1. A line's subtotal is quantity × unit price. Its discount is the fixed
//     amount, or subtotal × bp / 10000 rounded half-up. A discount larger
//     than the line is ErrDiscountTooLarge: never clamped, because a
//     silently reduced discount is a price the cashier did not agree to.
//  2. The cart discount applies to the sum of the discounted lines (fixed,
//     or percent of that sum rounded half-up, once) and is allocated to the
//     lines in proportion to their discounted amounts by the
//     largest-remainder method, so the shares add up to it exactly and no
//     line goes below zero.
//  3. VAT is computed per rate on the summed amount of that rate, rounded
//     half-up once per rate, then allocated back to that rate's lines by
//     largest remainder. Why per rate and not per line: the receipt's VAT
//     summary (required on Swiss and EU receipts) shows, per rate, the
//     base and the tax, and the tax must be that rate applied to that base.
//     Rounding per line would make the printed tax drift from rate × base
//     by up to half a cent per line; rounding per rate keeps the summary
//     exact, and the allocation still gives every line its exact share for
//     refunds and reports.
//  4. Inclusive prices: the rate's total is gross and its VAT is
//     S×r/(10000+r). Exclusive prices: the rate's total is net and VAT
//     S×r/10000 is added.
//
// All arithmetic is int64 minor units with overflow checks: huge
// quantities or prices give money.ErrOverflow, never a wrapped total.
// Tax is never negative (prices, rates and quantities are not).
func (c Cart) Totals(cfg Config) (Totals, error) {
	if err := cfg.Validate(); err != nil {
		return Totals{}, err
	}
	cur := cfg.Currency
	m := func(a int64) money.Money { return money.New(a, cur) }
	if err := c.Discount.validate(cur); err != nil {
		return Totals{}, fmt.Errorf("cart discount: %w", err)
	}
	n := len(c.Lines)
	after := make([]int64, n) // line amounts after line discounts
	t := Totals{Lines: make([]LineTotal, n)}
	var subtotal, lineDisc, sumAfter int64
	for i, l := range c.Lines {
		if err := l.validate(cfg); err != nil {
			return Totals{}, err
		}
		sub, ok := money.MulInt64(l.UnitPrice.Amount, l.Quantity)
		if !ok {
			return Totals{}, fmt.Errorf("line %d: %d × %v: %w", l.ID, l.Quantity, l.UnitPrice, money.ErrOverflow)
		}
		d, err := l.Discount.of(sub)
		if err != nil {
			return Totals{}, fmt.Errorf("line %d: %w", l.ID, err)
		}
		after[i] = sub - d
		if subtotal, ok = money.AddInt64(subtotal, sub); !ok {
			return Totals{}, fmt.Errorf("cart subtotal: %w", money.ErrOverflow)
		}
		lineDisc += d // ≤ subtotal, cannot overflow
		sumAfter += after[i]
		t.Lines[i] = LineTotal{LineID: l.ID, Subtotal: m(sub), LineDiscount: m(d)}
	}

	// Step 2: cart discount.
	cartDisc, err := c.Discount.of(sumAfter)
	if err != nil {
		return Totals{}, fmt.Errorf("cart discount: %w", err)
	}
	final := slices.Clone(after)
	if cartDisc > 0 {
		shares, err := money.AllocateInt(cartDisc, after)
		if err != nil {
			return Totals{}, fmt.Errorf("cart discount: %w", err)
		}
		for i, s := range shares {
			final[i] -= s
			t.Lines[i].CartDiscount = m(s)
		}
	}
	for i := range t.Lines {
		if t.Lines[i].CartDiscount.Currency.IsZero() {
			t.Lines[i].CartDiscount = m(0)
		}
	}

	// Step 3: VAT per rate.
	var rates []int
	byRate := map[int][]int{}
	for i, l := range c.Lines {
		if _, ok := byRate[l.TaxRate]; !ok {
			rates = append(rates, l.TaxRate)
		}
		byRate[l.TaxRate] = append(byRate[l.TaxRate], i)
	}
	slices.Sort(rates)
	var net, tax, total int64
	for _, r := range rates {
		idx := byRate[r]
		var s int64
		weights := make([]int64, len(idx))
		for k, i := range idx {
			s += final[i]
			weights[k] = final[i]
		}
		var rt int64
		if cfg.TaxMode == TaxInclusive {
			rt, err = money.MulDivRound(s, int64(r), 10_000+int64(r))
		} else {
			rt, err = money.MulDivRound(s, int64(r), 10_000)
		}
		if err != nil {
			return Totals{}, fmt.Errorf("VAT at %d bp on %v: %w", r, m(s), err)
		}
		rn, rg := s-rt, s
		if cfg.TaxMode == TaxExclusive {
			var ok bool
			if rg, ok = money.AddInt64(s, rt); !ok {
				return Totals{}, fmt.Errorf("VAT at %d bp on %v: %w", r, m(s), money.ErrOverflow)
			}
			rn = s
		}
		shares := make([]int64, len(idx))
		if rt > 0 {
			if shares, err = money.AllocateInt(rt, weights); err != nil {
				return Totals{}, fmt.Errorf("VAT at %d bp: %w", r, err)
			}
		}
		for k, i := range idx {
			lt := &t.Lines[i]
			lt.Tax = m(shares[k])
			if cfg.TaxMode == TaxInclusive {
				lt.Total, lt.Net = m(final[i]), m(final[i]-shares[k])
			} else {
				lt.Net, lt.Total = m(final[i]), m(final[i]+shares[k]) // ≤ rg, no overflow
			}
		}
		var ok1, ok2, ok3 bool
		net, ok1 = money.AddInt64(net, rn)
		tax, ok2 = money.AddInt64(tax, rt)
		total, ok3 = money.AddInt64(total, rg)
		if !ok1 || !ok2 || !ok3 {
			return Totals{}, fmt.Errorf("cart total: %w", money.ErrOverflow)
		}
		t.ByRate = append(t.ByRate, RateTotal{Rate: r, Net: m(rn), Tax: m(rt), Gross: m(rg)})
	}
	t.Subtotal, t.LineDiscounts, t.CartDiscount = m(subtotal), m(lineDisc), m(cartDisc)
	t.Discounts = m(lineDisc + cartDisc) // ≤ subtotal
	t.Net, t.Tax, t.Total = m(net), m(tax), m(total)
	return t, nil
}

func (l Line) validate(cfg Config) error {
	switch {
	case l.Quantity < 1 || l.Quantity > cfg.maxQuantity():
		return fmt.Errorf("line %d: quantity %d outside 1-%d: %w", l.ID, l.Quantity, cfg.maxQuantity(), ErrInvalidQuantity)
	case l.UnitPrice.Currency != cfg.Currency:
		return fmt.Errorf("line %d: price %v in an order in %s: %w", l.ID, l.UnitPrice, cfg.Currency, money.ErrCurrencyMismatch)
	case l.UnitPrice.Amount < 0:
		return fmt.Errorf("line %d: negative unit price %v: %w", l.ID, l.UnitPrice, ErrCorrupt)
	case l.TaxRate < 0 || l.TaxRate > 10_000:
		return fmt.Errorf("line %d: tax rate %d bp outside 0-10000: %w", l.ID, l.TaxRate, ErrCorrupt)
	}
	if err := l.Discount.validate(cfg.Currency); err != nil {
		return fmt.Errorf("line %d: %w", l.ID, err)
	}
	return nil
}
