package money

import (
	"errors"
	"math"
	"testing"
)

func TestArithmetic(t *testing.T) {
	a, b := New(1250, CHF), New(-300, CHF)
	if s, err := a.Add(b); err != nil || s != New(950, CHF) {
		t.Errorf("Add = %v, %v", s, err)
	}
	if s, err := a.Sub(b); err != nil || s != New(1550, CHF) {
		t.Errorf("Sub = %v, %v", s, err)
	}
	if s, err := a.MulInt(-3); err != nil || s != New(-3750, CHF) {
		t.Errorf("MulInt = %v, %v", s, err)
	}
	if c, err := a.Compare(b); err != nil || c != 1 {
		t.Errorf("Compare = %d, %v", c, err)
	}
	if _, err := a.Add(New(1, EUR)); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("Add across currencies err = %v", err)
	}
	if _, err := a.Compare(New(1, EUR)); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("Compare across currencies err = %v", err)
	}
	if _, err := a.Add(Money{Amount: 1}); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("Add zero currency err = %v", err)
	}
}

func TestOverflow(t *testing.T) {
	max, min := New(math.MaxInt64, CHF), New(math.MinInt64, CHF)
	one := New(1, CHF)
	checks := []struct {
		name string
		f    func() (Money, error)
	}{
		{"max+1", func() (Money, error) { return max.Add(one) }},
		{"min-1", func() (Money, error) { return min.Sub(one) }},
		{"min+(-1)", func() (Money, error) { return min.Add(New(-1, CHF)) }},
		{"max-(-1)", func() (Money, error) { return max.Sub(New(-1, CHF)) }},
		{"-min", func() (Money, error) { return min.Neg() }},
		{"max*2", func() (Money, error) { return max.MulInt(2) }},
		{"min*-1", func() (Money, error) { return min.MulInt(-1) }},
		{"2^32*2^32", func() (Money, error) { return New(1<<32, CHF).MulInt(1 << 31) }},
		{"max*3/2", func() (Money, error) { return max.MulRatio(3, 2) }},
		{"max 10001bp", func() (Money, error) { return max.Percent(10001) }},
		{"round max", func() (Money, error) { return max.RoundTo(10) }},
	}
	for _, c := range checks {
		if m, err := c.f(); !errors.Is(err, ErrOverflow) {
			t.Errorf("%s = %v, %v; want ErrOverflow", c.name, m, err)
		}
	}
	// Results right at the limits are not overflows.
	if m, err := min.MulInt(1); err != nil || m != min {
		t.Errorf("min*1 = %v, %v", m, err)
	}
	if m, err := New(math.MinInt64/2, CHF).MulInt(2); err != nil || m != min {
		t.Errorf("(min/2)*2 = %v, %v", m, err)
	}
	if m, err := max.MulRatio(7, 7); err != nil || m != max {
		t.Errorf("max*7/7 = %v, %v (128-bit intermediate)", m, err)
	}
}

func TestMulDivRound(t *testing.T) {
	tests := []struct {
		a, num, den, want int64
	}{
		{1000, 810, 10000, 81},
		{1005, 5, 10, 503}, // 502.5 rounds up
		{-1005, 5, 10, -503},
		{1005, -5, 10, -503},
		{1005, 5, -10, -503},
		{1004, 5, 10, 502},
		{1, 1, 3, 0},
		{2, 1, 3, 1},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MinInt64, 1, 1, math.MinInt64},
		{0, 5, 7, 0},
	}
	for _, tt := range tests {
		got, err := MulDivRound(tt.a, tt.num, tt.den)
		if err != nil || got != tt.want {
			t.Errorf("MulDivRound(%d, %d, %d) = %d, %v; want %d", tt.a, tt.num, tt.den, got, err, tt.want)
		}
	}
	if _, err := MulDivRound(1, 1, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("division by zero err = %v", err)
	}
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		total   int64
		weights []int64
		want    []int64
	}{
		{100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{-100, []int64{1, 1, 1}, []int64{-34, -33, -33}},
		{5, []int64{1, 0, 1}, []int64{3, 0, 2}},
		{1000, []int64{500, 300, 200}, []int64{500, 300, 200}},
		{10, []int64{3, 3, 4}, []int64{3, 3, 4}},
		{7, []int64{1, 2, 4}, []int64{1, 2, 4}},
		{1, []int64{1, 1}, []int64{1, 0}},
		{0, []int64{1, 2}, []int64{0, 0}},
		{math.MinInt64, []int64{1, 1}, []int64{math.MinInt64 / 2, math.MinInt64 / 2}},
		{math.MaxInt64, []int64{math.MaxInt64 - 1, 1}, []int64{math.MaxInt64 - 1, 1}},
	}
	for _, tt := range tests {
		got, err := AllocateInt(tt.total, tt.weights)
		if err != nil {
			t.Errorf("AllocateInt(%d, %v): %v", tt.total, tt.weights, err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("AllocateInt(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
				break
			}
		}
	}
	for _, w := range [][]int64{nil, {0, 0}, {1, -1}, {math.MaxInt64, 1, math.MaxInt64}} {
		if _, err := AllocateInt(10, w); err == nil {
			t.Errorf("AllocateInt(10, %v) succeeded", w)
		}
	}
}

func FuzzAllocate(f *testing.F) {
	f.Add(int64(100), int64(1), int64(1), int64(1))
	f.Add(int64(-7), int64(0), int64(5), int64(3))
	f.Add(int64(math.MinInt64), int64(math.MaxInt64/3), int64(math.MaxInt64/3), int64(1))
	f.Fuzz(func(t *testing.T, total, w1, w2, w3 int64) {
		ws := []int64{w1, w2, w3}
		parts, err := AllocateInt(total, ws)
		if err != nil {
			return
		}
		var sum int64
		for i, p := range parts {
			if ws[i] == 0 && p != 0 {
				t.Fatalf("weight 0 got %d", p)
			}
			if (total >= 0 && p < 0) || (total <= 0 && p > 0) {
				t.Fatalf("part %d has the wrong sign: %v of %d", i, parts, total)
			}
			var ok bool
			if sum, ok = AddInt64(sum, p); !ok {
				t.Fatalf("parts overflow: %v", parts)
			}
		}
		if sum != total {
			t.Fatalf("parts %v sum to %d, want %d", parts, sum, total)
		}
	})
}

func TestString(t *testing.T) {
	tests := map[Money]string{
		New(123450, CHF):        "CHF 1234.50",
		New(-5, CHF):            "CHF -0.05",
		New(-5, JPY):            "JPY -5",
		New(125, KWD):           "KWD 0.125",
		New(math.MinInt64, CHF): "CHF -92233720368547758.08",
		{Amount: 7}:             "<no currency> 7",
	}
	for m, want := range tests {
		if got := m.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
