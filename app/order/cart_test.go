package order

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/tillpos/till/app/money"
)

var (
	incCHF = Config{Currency: money.CHF, TaxMode: TaxInclusive}
	excUSD = Config{Currency: money.USD, TaxMode: TaxExclusive}
)

func line(id int, cfg Config, price int64, qty int64, rate int) Line {
	return Line{ID: id, SKU: "S" + string(rune('A'+id)), Name: "item", UnitPrice: money.New(price, cfg.Currency), TaxRate: rate, Quantity: qty}
}

func withDiscount(l Line, d Discount) Line { l.Discount = d; return l }

type cartCase struct {
	name string
	cfg  Config
	cart Cart
	// expectations (minor units) when err is nil
	subtotal, discounts, net, tax, total int64
	lineTax                              []int64
	lineCartDisc                         []int64
	err                                  error
}

var cartCases = []cartCase{
	{name: "empty", cfg: incCHF, cart: Cart{}},
	{
		name: "two rates inclusive", cfg: incCHF,
		cart:     Cart{Lines: []Line{line(1, incCHF, 420, 2, 260), line(2, incCHF, 950, 1, 810)}},
		subtotal: 1790, net: 1698, tax: 92, total: 1790, lineTax: []int64{21, 71},
	},
	{
		// Per-line rounding would give 3 × 7 = 21; per rate it is 22.
		name: "tax rounded per rate, not per line", cfg: incCHF,
		cart:     Cart{Lines: []Line{line(1, incCHF, 100, 1, 810), line(2, incCHF, 100, 1, 810), line(3, incCHF, 100, 1, 810)}},
		subtotal: 300, net: 278, tax: 22, total: 300, lineTax: []int64{8, 7, 7},
	},
	{
		name: "exclusive sales tax", cfg: excUSD,
		cart:     Cart{Lines: []Line{line(1, excUSD, 1000, 3, 875), line(2, excUSD, 99, 1, 875)}},
		subtotal: 3099, net: 3099, tax: 271, total: 3370, lineTax: []int64{262, 9},
	},
	{
		name: "line and cart discounts", cfg: incCHF,
		cart: Cart{
			Lines: []Line{
				withDiscount(line(1, incCHF, 520, 3, 260), PercentOff(1000)),
				withDiscount(line(2, incCHF, 750, 1, 260), AmountOff(money.New(100, money.CHF))),
			},
			Discount: PercentOff(500),
		},
		subtotal: 2310, discounts: 359, net: 1902, tax: 49, total: 1951,
		lineTax: []int64{34, 15}, lineCartDisc: []int64{70, 33},
	},
	{
		name: "cart discount to zero", cfg: incCHF,
		cart:     Cart{Lines: []Line{line(1, incCHF, 333, 1, 810), line(2, incCHF, 667, 1, 260)}, Discount: AmountOff(money.New(1000, money.CHF))},
		subtotal: 1000, discounts: 1000, lineTax: []int64{0, 0}, lineCartDisc: []int64{333, 667},
	},
	{
		name: "100 % line discount", cfg: incCHF,
		cart:     Cart{Lines: []Line{withDiscount(line(1, incCHF, 420, 1, 260), PercentOff(10000)), line(2, incCHF, 100, 1, 260)}},
		subtotal: 520, discounts: 420, net: 97, tax: 3, total: 100, lineTax: []int64{0, 3},
	},
	{
		name: "zero-decimal currency", cfg: Config{Currency: money.JPY, TaxMode: TaxInclusive},
		cart:     Cart{Lines: []Line{line(1, Config{Currency: money.JPY}, 1234, 2, 1000)}},
		subtotal: 2468, net: 2244, tax: 224, total: 2468, lineTax: []int64{224},
	},
	{
		name: "line discount too large", cfg: incCHF,
		cart: Cart{Lines: []Line{withDiscount(line(1, incCHF, 420, 1, 260), AmountOff(money.New(421, money.CHF)))}},
		err:  ErrDiscountTooLarge,
	},
	{
		name: "cart discount too large", cfg: incCHF,
		cart: Cart{Lines: []Line{line(1, incCHF, 420, 1, 260)}, Discount: AmountOff(money.New(421, money.CHF))},
		err:  ErrDiscountTooLarge,
	},
	{
		name: "percent above 100", cfg: incCHF,
		cart: Cart{Lines: []Line{line(1, incCHF, 420, 1, 260)}, Discount: PercentOff(10001)},
		err:  ErrInvalidDiscount,
	},
	{
		name: "negative amount discount", cfg: incCHF,
		cart: Cart{Lines: []Line{withDiscount(line(1, incCHF, 420, 1, 260), AmountOff(money.New(-1, money.CHF)))}},
		err:  ErrInvalidDiscount,
	},
	{
		name: "discount in other currency", cfg: incCHF,
		cart: Cart{Lines: []Line{line(1, incCHF, 420, 1, 260)}, Discount: AmountOff(money.New(1, money.EUR))},
		err:  money.ErrCurrencyMismatch,
	},
	{
		name: "zero quantity", cfg: incCHF,
		cart: Cart{Lines: []Line{line(1, incCHF, 420, 0, 260)}},
		err:  ErrInvalidQuantity,
	},
	{
		name: "huge quantity × price", cfg: Config{Currency: money.CHF, TaxMode: TaxInclusive, MaxQuantity: math.MaxInt64},
		cart: Cart{Lines: []Line{line(1, incCHF, math.MaxInt64/2, 3, 260)}},
		err:  money.ErrOverflow,
	},
	{
		name: "lines overflow the subtotal", cfg: incCHF,
		cart: Cart{Lines: []Line{line(1, incCHF, math.MaxInt64/2, 1, 260), line(2, incCHF, math.MaxInt64/2, 1, 260), line(3, incCHF, 2, 1, 260)}},
		err:  money.ErrOverflow,
	},
	{
		name: "exclusive tax overflows the total", cfg: excUSD,
		cart: Cart{Lines: []Line{line(1, excUSD, math.MaxInt64-10, 1, 875)}},
		err:  money.ErrOverflow,
	},
	{
		name: "line in other currency", cfg: incCHF,
		cart: Cart{Lines: []Line{line(1, excUSD, 420, 1, 260)}},
		err:  money.ErrCurrencyMismatch,
	},
}

func TestCartTotals(t *testing.T) {
	for _, tc := range cartCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cart.Totals(tc.cfg)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cur := tc.cfg.Currency
			want := map[string][2]money.Money{
				"subtotal":  {got.Subtotal, money.New(tc.subtotal, cur)},
				"discounts": {got.Discounts, money.New(tc.discounts, cur)},
				"net":       {got.Net, money.New(tc.net, cur)},
				"tax":       {got.Tax, money.New(tc.tax, cur)},
				"total":     {got.Total, money.New(tc.total, cur)},
			}
			for name, p := range want {
				if p[0] != p[1] {
					t.Errorf("%s = %v, want %v", name, p[0], p[1])
				}
			}
			for i, lt := range got.Lines {
				if tc.lineTax != nil && lt.Tax.Amount != tc.lineTax[i] {
					t.Errorf("line %d tax = %v, want %d", lt.LineID, lt.Tax, tc.lineTax[i])
				}
				if tc.lineCartDisc != nil && lt.CartDiscount.Amount != tc.lineCartDisc[i] {
					t.Errorf("line %d cart discount = %v, want %d", lt.LineID, lt.CartDiscount, tc.lineCartDisc[i])
				}
			}
			checkInvariants(t, tc.cfg, tc.cart, got)
		})
	}
}

// checkInvariants asserts what must hold for every computed Totals, with an
// independent oracle (math/big rationals) for each rate's tax.
func checkInvariants(t *testing.T, cfg Config, c Cart, got Totals) {
	t.Helper()
	var sumNet, sumTax, sumTotal, sumLineDisc, sumCartDisc, sumSub int64
	perRate := map[int]int64{}
	for i, lt := range got.Lines {
		l := c.Lines[i]
		if lt.LineID != l.ID {
			t.Fatalf("line %d reported as %d", l.ID, lt.LineID)
		}
		for name, v := range map[string]money.Money{"net": lt.Net, "tax": lt.Tax, "total": lt.Total, "line discount": lt.LineDiscount, "cart discount": lt.CartDiscount, "subtotal": lt.Subtotal} {
			if v.Amount < 0 {
				t.Fatalf("line %d: %s %v is negative", l.ID, name, v)
			}
			if v.Currency != cfg.Currency {
				t.Fatalf("line %d: %s %v in the wrong currency", l.ID, name, v)
			}
		}
		final := lt.Subtotal.Amount - lt.LineDiscount.Amount - lt.CartDiscount.Amount
		if final < 0 {
			t.Fatalf("line %d: discounts push it below zero: %+v", l.ID, lt)
		}
		basis := lt.Net.Amount
		if cfg.TaxMode == TaxInclusive {
			basis = lt.Total.Amount
		}
		if final != basis || lt.Net.Amount+lt.Tax.Amount != lt.Total.Amount {
			t.Fatalf("line %d does not add up: %+v", l.ID, lt)
		}
		sumNet += lt.Net.Amount
		sumTax += lt.Tax.Amount
		sumTotal += lt.Total.Amount
		sumLineDisc += lt.LineDiscount.Amount
		sumCartDisc += lt.CartDiscount.Amount
		sumSub += lt.Subtotal.Amount
		perRate[l.TaxRate] += final
	}
	if sumNet != got.Net.Amount || sumTax != got.Tax.Amount || sumTotal != got.Total.Amount {
		t.Fatalf("lines sum to net %d tax %d total %d; totals %v %v %v", sumNet, sumTax, sumTotal, got.Net, got.Tax, got.Total)
	}
	if sumSub != got.Subtotal.Amount || sumLineDisc != got.LineDiscounts.Amount || sumCartDisc != got.CartDiscount.Amount ||
		got.Discounts.Amount != sumLineDisc+sumCartDisc || got.Net.Amount+got.Tax.Amount != got.Total.Amount {
		t.Fatalf("totals do not add up: %+v", got)
	}
	if got.Tax.Amount < 0 {
		t.Fatalf("negative tax %v", got.Tax)
	}
	var rNet, rTax, rGross int64
	for k, rt := range got.ByRate {
		if k > 0 && got.ByRate[k-1].Rate >= rt.Rate {
			t.Fatalf("ByRate not ascending: %+v", got.ByRate)
		}
		s := perRate[rt.Rate]
		if want := oracleTax(cfg.TaxMode, s, rt.Rate); rt.Tax.Amount != want {
			t.Fatalf("rate %d on %d: tax %v, oracle %d", rt.Rate, s, rt.Tax, want)
		}
		rNet += rt.Net.Amount
		rTax += rt.Tax.Amount
		rGross += rt.Gross.Amount
	}
	if rNet != got.Net.Amount || rTax != got.Tax.Amount || rGross != got.Total.Amount || len(got.ByRate) != len(perRate) {
		t.Fatalf("VAT summary does not add up: %+v vs %+v", got.ByRate, got)
	}
}

// oracleTax is the VAT on s at rate bp, rounded half-up, using exact
// rationals.
func oracleTax(mode TaxMode, s int64, bp int) int64 {
	den := int64(10_000)
	if mode == TaxInclusive {
		den += int64(bp)
	}
	x := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(s), big.NewInt(int64(bp))), big.NewInt(den))
	x.Add(x, big.NewRat(1, 2))
	q := new(big.Int).Quo(x.Num(), x.Denom()) // s, bp ≥ 0: truncation is floor
	return q.Int64()
}

// encodeCart and decodeCart map a cart to bytes and back, so the fuzzer
// explores carts starting from the table above.
func encodeCart(cfg Config, c Cart) []byte {
	var b []byte
	flags := byte(0)
	if cfg.TaxMode == TaxExclusive {
		flags |= 1
	}
	b = append(b, flags)
	b = appendDiscount(b, c.Discount)
	for _, l := range c.Lines {
		b = binary.AppendVarint(b, l.UnitPrice.Amount)
		b = binary.AppendVarint(b, l.Quantity)
		b = binary.AppendVarint(b, int64(l.TaxRate))
		b = appendDiscount(b, l.Discount)
	}
	return b
}

func appendDiscount(b []byte, d Discount) []byte {
	switch d.Kind {
	case DiscountAmount:
		return binary.AppendVarint(append(b, 1), d.Amount.Amount)
	case DiscountPercent:
		return binary.AppendVarint(append(b, 2), d.BasisPoints)
	}
	return append(b, 0)
}

func decodeCart(data []byte) (Config, Cart, bool) {
	if len(data) == 0 {
		return Config{}, Cart{}, false
	}
	cfg := Config{Currency: money.CHF, TaxMode: TaxInclusive, MaxQuantity: math.MaxInt64}
	if data[0]&1 != 0 {
		cfg.TaxMode = TaxExclusive
	}
	data = data[1:]
	var c Cart
	readDiscount := func() (Discount, bool) {
		if len(data) == 0 {
			return Discount{}, false
		}
		kind := data[0] % 3
		data = data[1:]
		if kind == 0 {
			return Discount{}, true
		}
		v, n := binary.Varint(data)
		if n <= 0 {
			return Discount{}, false
		}
		data = data[n:]
		if kind == 1 {
			return AmountOff(money.New(v, cfg.Currency)), true
		}
		return PercentOff(v), true
	}
	var ok bool
	if c.Discount, ok = readDiscount(); !ok {
		return cfg, c, false
	}
	for id := 1; len(data) > 0 && id <= 20; id++ {
		var vals [3]int64
		for i := range vals {
			v, n := binary.Varint(data)
			if n <= 0 {
				return cfg, c, false
			}
			vals[i], data = v, data[n:]
		}
		d, ok := readDiscount()
		if !ok {
			return cfg, c, false
		}
		c.Lines = append(c.Lines, Line{ID: id, SKU: "X", Name: "x", UnitPrice: money.New(vals[0], cfg.Currency),
			Quantity: vals[1], TaxRate: int(vals[2]), Discount: d})
	}
	return cfg, c, true
}

// FuzzCartTotals: for any cart, Totals either fails with a documented error
// or returns totals satisfying every invariant (lines sum to totals, tax
// never negative and equal to the exact per-rate oracle, no line below
// zero). Huge prices and quantities must give money.ErrOverflow.
func FuzzCartTotals(f *testing.F) {
	for _, tc := range cartCases {
		if tc.cfg.Currency == money.CHF {
			f.Add(encodeCart(tc.cfg, tc.cart))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, c, ok := decodeCart(data)
		if !ok {
			return
		}
		got, err := c.Totals(cfg)
		if err != nil {
			for _, known := range []error{money.ErrOverflow, ErrDiscountTooLarge, ErrInvalidDiscount, ErrInvalidQuantity, ErrCorrupt} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("undocumented error: %v", err)
		}
		checkInvariants(t, cfg, c, got)
	})
}

func BenchmarkCartTotals(b *testing.B) {
	var c Cart
	for i := 1; i <= 50; i++ {
		c.Lines = append(c.Lines, line(i, incCHF, int64(100+i*37), int64(1+i%3), []int{260, 810}[i%2]))
	}
	c.Discount = PercentOff(750)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Totals(incCHF); err != nil {
			b.Fatal(err)
		}
	}
}
