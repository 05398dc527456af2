package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change)", name)
		out := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(out, got, 0o644); err == nil {
			t.Logf("got written to %s", out)
		}
	}
}

// text renders lines the way a test reads them.
func text(ls []Line) string {
	var b strings.Builder
	for _, l := range ls {
		switch {
		case l.Rule:
			b.WriteString("----\n")
		case l.Heading:
			b.WriteString("# " + l.Label + " | " + l.Value + "\n")
		default:
			b.WriteString(l.Label + " | " + l.Value + "\n")
		}
	}
	return strings.ReplaceAll(b.String(), "\u00a0", "_")
}

func TestLinesGolden(t *testing.T) {
	r, err := Make(fullDay(t))
	must(t, err)
	golden(t, "fullday.lines.txt", []byte(text(r.Lines())))
}

func TestLines(t *testing.T) {
	l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
	cash := build(t, l, sale{items: []item{{irish, 130}}, pays: []pay{{kind: order.TenderCash, given: 123500}}})
	tests := []struct {
		name   string
		input  func() Input
		has    []string // lines text must contain these lines
		hasNot []string // and none of these substrings
	}{
		{
			name:   "nothing happened",
			input:  func() Input { return baseInput() },
			has:    []string{"No sales and no payments in this period | ", "Outbox pending | 0", "Dead letters | 0"},
			hasNot: []string{"CHF"},
		},
		{
			name:  "tenders that took nothing are left out, zeros elsewhere are shown",
			input: func() Input { return baseInput(cash) },
			has: []string{"Sales | 1", "Cash (1) | CHF_1’235.00", "Voids (0) | CHF_0.00",
				"Cancelled, abandoned (0) | CHF_0.00", "VAT included | CHF_92.54", "  VAT at 8.1_% | CHF_92.54"},
			hasNot: []string{"Card", "TWINT", "Cash overpaid", "Already paid"},
		},
		{
			name: "French: grouping, decimal comma, day first",
			input: func() Input {
				in := baseInput(cash)
				in.Locale = language.MustParse("fr-FR")
				return in
			},
			has: []string{"Cash (1) | 1_235,00_CHF", "Period | 23/11/2026", "Generated | 23/11/2026 22:04", "  VAT at 8,1_% | 92,54_CHF"},
		},
		{
			name: "American English: month first, 12-hour clock, period not a whole day",
			input: func() Input {
				in := baseInput(cash)
				in.Locale = language.MustParse("en-US")
				in.To = day.Add(20 * time.Hour)
				return in
			},
			has: []string{"Cash (1) | CHF_1,235.00", "Period | 11/23/2026 12:00 AM – 11/23/2026 8:00 PM", "Generated | 11/23/2026 10:04 PM", "  VAT at 8.1% | CHF_92.54"},
		},
		{
			name: "unlisted language: ISO dates",
			input: func() Input {
				in := baseInput(cash)
				in.Locale = language.MustParse("hu-HU")
				return in
			},
			has: []string{"Period | 2026-11-23", "Generated | 2026-11-23 22:04"},
		},
		{
			name: "open sale partly paid, other cancellation reason",
			input: func() Input {
				o := build(t, l, sale{items: []item{{irish, 1}}, pays: []pay{{kind: order.TenderCash, given: 500}}, end: tendering})
				in := baseInput(o)
				in.Cancelled = []Action{{PaymentIntent: "pi_x", Amount: money.New(7, money.CHF), Reason: "fraudulent"}, {PaymentIntent: "pi_y", Amount: money.New(3, money.CHF)}}
				return in
			},
			has: []string{"No payments | ", "Still open (1) | CHF_9.50", "  Already paid on open sales | CHF_5.00",
				"Cancelled, fraudulent (1) | CHF_0.07", "Cancelled, no reason (1) | CHF_0.03"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Make(tc.input())
			must(t, err)
			got := text(r.Lines())
			lines := strings.Split(got, "\n")
			for _, h := range tc.has {
				if !contains(lines, strings.ReplaceAll(h, "\u00a0", "_")) {
					t.Errorf("no line %q in\n%s", h, got)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(got, h) {
					t.Errorf("%q in\n%s", h, got)
				}
			}
		})
	}
}

func contains(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}
	return false
}
