package money

import (
	"errors"
	"math"
	"testing"
)

func TestCashIncrement(t *testing.T) {
	tests := []struct {
		c    Currency
		want int64
	}{
		{CHF, 5}, {SEK, 100}, {NOK, 100}, {DKK, 100}, {EUR, 1}, {USD, 1},
		{JPY, 1}, {KWD, 1}, {MustCurrency("CAD"), 5}, {MustCurrency("CZK"), 100},
		{Currency{}, 1},
	}
	for _, tt := range tests {
		if got := CashIncrement(tt.c); got != tt.want {
			t.Errorf("CashIncrement(%v) = %d, want %d", tt.c, got, tt.want)
		}
	}
	r := CashRules{DKK: 50, EUR: 5, CHF: 0}
	if got := r.Increment(DKK); got != 50 {
		t.Errorf("override DKK = %d", got)
	}
	if got := r.Increment(CHF); got != 5 {
		t.Errorf("non-positive override must fall back: CHF = %d", got)
	}
}

func TestCashRound(t *testing.T) {
	var defaults CashRules
	tests := []struct {
		rules CashRules
		in    Money
		want  int64
	}{
		{defaults, New(1243, CHF), 1245},
		{defaults, New(1242, CHF), 1240},
		{defaults, New(1247, CHF), 1245},
		{defaults, New(1248, CHF), 1250},
		{defaults, New(1250, CHF), 1250},
		{defaults, New(-1243, CHF), -1245}, // refunds mirror sales
		{defaults, New(-1242, CHF), -1240},
		{defaults, New(9950, SEK), 10000}, // half rounds up
		{defaults, New(9949, SEK), 9900},
		{defaults, New(-9950, NOK), -10000},
		{defaults, New(12345, DKK), 12300},
		{CashRules{DKK: 50}, New(12325, DKK), 12350},
		{CashRules{DKK: 50}, New(12324, DKK), 12300},
		{defaults, New(1999, EUR), 1999},
		{defaults, New(0, CHF), 0},
	}
	for _, tt := range tests {
		got, err := tt.rules.Round(tt.in)
		if err != nil || got != New(tt.want, tt.in.Currency) {
			t.Errorf("%v.Round(%v) = %v, %v; want %d", tt.rules, tt.in, got, err, tt.want)
		}
	}
	if _, err := defaults.Round(New(math.MinInt64, CHF)); !errors.Is(err, ErrOverflow) {
		t.Errorf("rounding away from zero past int64 err = %v", err)
	}
	if _, err := defaults.Round(Money{Amount: 3}); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("zero currency err = %v", err)
	}
	if _, err := New(1, CHF).RoundTo(0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("RoundTo(0) err = %v", err)
	}
}
