package money

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
)

// Money is an exact amount: Amount minor units (Rappen, cents, yen, fils) of
// Currency. The zero Money has no currency and is invalid for arithmetic.
//
// Money is a small value type; methods never modify the receiver.
type Money struct {
	Amount   int64    `json:"amount"`
	Currency Currency `json:"currency"`
}

// New returns amount minor units of c.
func New(amount int64, c Currency) Money { return Money{Amount: amount, Currency: c} }

// Zero returns 0 of c.
func Zero(c Currency) Money { return Money{Currency: c} }

// IsZero reports whether the amount is 0 (whatever the currency).
func (m Money) IsZero() bool { return m.Amount == 0 }

// Sign returns -1, 0 or +1.
func (m Money) Sign() int {
	switch {
	case m.Amount < 0:
		return -1
	case m.Amount > 0:
		return 1
	}
	return 0
}

// String renders m without locale, for logs and errors: "CHF 1234.50",
// "JPY -5", "KWD 0.125". Use Format for anything a person reads at the till.
func (m Money) String() string {
	e := m.Currency.Exponent()
	neg := m.Amount < 0
	mag := absU(m.Amount)
	p := uint64(pow10[e])
	s := strconv.FormatUint(mag/p, 10)
	if e > 0 {
		f := strconv.FormatUint(mag%p, 10)
		for len(f) < e {
			f = "0" + f
		}
		s += "." + f
	}
	if neg {
		s = "-" + s
	}
	return m.Currency.String() + " " + s
}

func (m Money) check(op string, o Money) error {
	if m.Currency.IsZero() || o.Currency.IsZero() {
		return fmt.Errorf("money: %s %v and %v: %w", op, m, o, ErrUnknownCurrency)
	}
	if m.Currency != o.Currency {
		return fmt.Errorf("money: %s %v and %v: %w", op, m, o, ErrCurrencyMismatch)
	}
	return nil
}

// Add returns m+o. Both must have the same (non-zero) currency.
func (m Money) Add(o Money) (Money, error) {
	if err := m.check("add", o); err != nil {
		return Money{}, err
	}
	s, ok := addInt64(m.Amount, o.Amount)
	if !ok {
		return Money{}, fmt.Errorf("money: add %v and %v: %w", m, o, ErrOverflow)
	}
	return Money{s, m.Currency}, nil
}

// Sub returns m-o. Both must have the same (non-zero) currency.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.check("subtract", o); err != nil {
		return Money{}, err
	}
	s, ok := subInt64(m.Amount, o.Amount)
	if !ok {
		return Money{}, fmt.Errorf("money: subtract %v from %v: %w", o, m, ErrOverflow)
	}
	return Money{s, m.Currency}, nil
}

// Neg returns -m; it fails only for the most negative int64.
func (m Money) Neg() (Money, error) {
	if m.Amount == math.MinInt64 {
		return Money{}, fmt.Errorf("money: negate %v: %w", m, ErrOverflow)
	}
	return Money{-m.Amount, m.Currency}, nil
}

// MulInt returns m×n (a quantity).
func (m Money) MulInt(n int64) (Money, error) {
	p, ok := mulInt64(m.Amount, n)
	if !ok {
		return Money{}, fmt.Errorf("money: multiply %v by %d: %w", m, n, ErrOverflow)
	}
	return Money{p, m.Currency}, nil
}

// MulRatio returns m×num/den rounded half away from zero (half-up on the
// magnitude, so refunds mirror sales). The product is computed in 128 bits,
// so only a result that itself does not fit in int64 is an overflow.
func (m Money) MulRatio(num, den int64) (Money, error) {
	v, err := MulDivRound(m.Amount, num, den)
	if err != nil {
		return Money{}, fmt.Errorf("money: %v × %d/%d: %w", m, num, den, err)
	}
	return Money{v, m.Currency}, nil
}

// Percent returns m × bp / 10000 (bp in basis points: 810 = 8.1 %), rounded
// half away from zero.
func (m Money) Percent(bp int64) (Money, error) {
	v, err := MulDivRound(m.Amount, bp, 10_000)
	if err != nil {
		return Money{}, fmt.Errorf("money: %d bp of %v: %w", bp, m, err)
	}
	return Money{v, m.Currency}, nil
}

// Compare returns -1, 0 or +1 as m is less than, equal to or greater than o.
// Different currencies are an error, never an ordering.
func (m Money) Compare(o Money) (int, error) {
	if err := m.check("compare", o); err != nil {
		return 0, err
	}
	switch {
	case m.Amount < o.Amount:
		return -1, nil
	case m.Amount > o.Amount:
		return 1, nil
	}
	return 0, nil
}

// StripeAmount returns the integer the Stripe API expects as "amount" for m:
// minor units, except for Stripe's special two-decimal representations of
// ISK and UGX, where it is m.Amount×100.
func (m Money) StripeAmount() (int64, error) {
	if m.Currency.IsZero() {
		return 0, fmt.Errorf("money: Stripe amount of %v: %w", m, ErrUnknownCurrency)
	}
	d := m.Currency.StripeExponent() - m.Currency.Exponent()
	v, ok := mulInt64(m.Amount, pow10[d])
	if !ok {
		return 0, fmt.Errorf("money: Stripe amount of %v: %w", m, ErrOverflow)
	}
	return v, nil
}

// FromStripeAmount is the inverse of StripeAmount.
func FromStripeAmount(amount int64, c Currency) (Money, error) {
	if c.IsZero() {
		return Money{}, fmt.Errorf("money: Stripe amount %d: %w", amount, ErrUnknownCurrency)
	}
	p := pow10[c.StripeExponent()-c.Exponent()]
	if amount%p != 0 {
		return Money{}, fmt.Errorf("money: Stripe amount %d %s is not a whole number of %s minor units: %w", amount, c.StripeCode(), c, ErrInvalidArgument)
	}
	return Money{amount / p, c}, nil
}

// Allocate splits m into len(weights) parts proportional to the weights
// using the largest-remainder method: each part gets floor(m×w/Σw) and the
// units left over go one each to the parts with the largest remainders
// (earliest index first on ties). The parts always sum exactly to m, each
// part has the sign of m (or is zero), and a part with weight 0 gets 0.
// Weights must be non-negative with a positive sum.
func (m Money) Allocate(weights []int64) ([]Money, error) {
	amounts, err := AllocateInt(m.Amount, weights)
	if err != nil {
		return nil, fmt.Errorf("money: allocate %v: %w", m, err)
	}
	out := make([]Money, len(amounts))
	for i, a := range amounts {
		out[i] = Money{a, m.Currency}
	}
	return out, nil
}

// AllocateInt is Allocate on bare int64 amounts, for callers (such as tax
// allocation) that work on minor units directly.
func AllocateInt(total int64, weights []int64) ([]int64, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("no weights: %w", ErrInvalidArgument)
	}
	var sum uint64
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("weight %d is negative (%d): %w", i, w, ErrInvalidArgument)
		}
		var c uint64
		sum, c = bits.Add64(sum, uint64(w), 0)
		if c != 0 || sum > math.MaxInt64 {
			return nil, fmt.Errorf("weights sum: %w", ErrOverflow)
		}
	}
	if sum == 0 {
		return nil, fmt.Errorf("weights sum to zero: %w", ErrInvalidArgument)
	}
	mag := absU(total)
	parts := make([]uint64, len(weights))
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(mag, uint64(w))
		// mag×w/sum ≤ mag because w ≤ sum, so the quotient fits in 64 bits
		// and hi < sum holds.
		q, r := bits.Div64(hi, lo, sum)
		parts[i], rems[i] = q, r
		given += q
	}
	// The leftover is Σr/Σw, and every r < Σw, so fewer than len(weights)
	// units are left and more parts than that have a non-zero remainder.
	left := mag - given
	if left > 0 {
		order := make([]int, len(weights))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return rems[order[a]] > rems[order[b]] })
		for _, i := range order[:left] {
			parts[i]++
		}
	}
	out := make([]int64, len(parts))
	for i, p := range parts {
		if total < 0 {
			out[i] = int64(-p) // p ≤ 2^63, so -p as int64 is exact
		} else {
			out[i] = int64(p)
		}
	}
	return out, nil
}

// RoundTo rounds m to a multiple of increment minor units, half away from
// zero (half-up on the magnitude, so a refund mirrors its sale). With
// increment 5: 12.47 → 12.45, 12.48 → 12.50, 12.475 cannot occur, and
// −12.48 → −12.50. With increment 100: 12.50 → 13.00, 12.49 → 12.00.
func (m Money) RoundTo(increment int64) (Money, error) {
	if increment <= 0 {
		return Money{}, fmt.Errorf("money: round %v to %d: %w", m, increment, ErrInvalidArgument)
	}
	mag := absU(m.Amount)
	inc := uint64(increment)
	r := mag % inc
	down := mag - r
	up := down
	if r >= inc-r { // r ≥ inc/2 without overflow: ties go up
		var c uint64
		up, c = bits.Add64(down, inc, 0)
		if c != 0 {
			return Money{}, fmt.Errorf("money: round %v to %d: %w", m, increment, ErrOverflow)
		}
	}
	v, ok := fromMag(up, m.Amount < 0)
	if !ok {
		return Money{}, fmt.Errorf("money: round %v to %d: %w", m, increment, ErrOverflow)
	}
	return Money{v, m.Currency}, nil
}

// MulDivRound returns a×num/den rounded half away from zero, computed
// exactly in 128 bits. It fails with ErrInvalidArgument when den is 0 and
// with ErrOverflow when the rounded result does not fit in int64.
func MulDivRound(a, num, den int64) (int64, error) {
	if den == 0 {
		return 0, fmt.Errorf("division by zero: %w", ErrInvalidArgument)
	}
	neg := (a < 0) != (num < 0) != (den < 0)
	hi, lo := bits.Mul64(absU(a), absU(num))
	d := absU(den)
	if hi >= d {
		return 0, ErrOverflow
	}
	q, r := bits.Div64(hi, lo, d)
	if r >= d-r {
		if q == math.MaxUint64 {
			return 0, ErrOverflow
		}
		q++
	}
	v, ok := fromMag(q, neg)
	if !ok {
		return 0, ErrOverflow
	}
	return v, nil
}

func absU(a int64) uint64 {
	if a < 0 {
		return uint64(0) - uint64(a)
	}
	return uint64(a)
}

// fromMag turns a magnitude and sign back into an int64, reporting overflow.
func fromMag(mag uint64, neg bool) (int64, bool) {
	if neg {
		if mag > 1<<63 {
			return 0, false
		}
		return int64(-mag), true // mag ≤ 2^63, so the two's complement is exact
	}
	if mag > math.MaxInt64 {
		return 0, false
	}
	return int64(mag), true
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	// Overflow iff both operands have the same sign and the sum's differs.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, false
	}
	return s, true
}

func subInt64(a, b int64) (int64, bool) {
	s := a - b
	if (a >= 0) != (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, false
	}
	return s, true
}

func mulInt64(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(absU(a), absU(b))
	if hi != 0 {
		return 0, false
	}
	return fromMag(lo, (a < 0) != (b < 0) && lo != 0)
}

// AddInt64 and MulInt64 are the overflow-checked primitives Money uses,
// exported for packages that sum quantities and minor units.
func AddInt64(a, b int64) (int64, bool) { return addInt64(a, b) }

// MulInt64 returns a×b and whether it fits in int64.
func MulInt64(a, b int64) (int64, bool) { return mulInt64(a, b) }
