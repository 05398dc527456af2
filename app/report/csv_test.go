package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/app/order"
)

func readCSV(t *testing.T, r Report) [][]string {
	t.Helper()
	var buf bytes.Buffer
	must(t, r.WriteCSV(&buf))
	cr := csv.NewReader(&buf)
	cr.FieldsPerRecord = len(CSVHeader)
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse back: %v\n%s", err, buf.String())
	}
	return recs
}

func TestWriteCSV(t *testing.T) {
	l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
	in := baseInput(build(t, l, sale{items: []item{{cake, 1}}, pays: []pay{{kind: order.TenderCash, given: 1000}}}))
	in.Refunds = []Action{{OrderID: "L1-x", PaymentIntent: "pi_r", Amount: chf(420), Reason: "requested_by_customer"}}
	in.Cancelled = []Action{{PaymentIntent: "pi_c", Amount: chf(150), Reason: "fraudulent"}}
	in.OutboxPending = 4
	r, err := Make(in)
	must(t, err)
	got := readCSV(t, r)
	nb := "\u00a0"
	want := [][]string{
		CSVHeader,
		{"report", "lane", "", "", "", "L1"},
		{"report", "from", "", "", "", "2026-11-23T00:00:00+01:00"},
		{"report", "to", "", "", "", "2026-11-24T00:00:00+01:00"},
		{"report", "generated_at", "", "", "", "2026-11-23T22:04:00+01:00"},
		{"report", "locale", "", "", "", "de-CH"},
		{"sales", "gross", "CHF", "1", "545", "CHF" + nb + "5.45"},
		{"sales", "net", "CHF", "", "529", "CHF" + nb + "5.29"},
		{"sales", "tax", "CHF", "", "14", "CHF" + nb + "0.14"},
		{"sales", "discounts", "CHF", "", "0", "CHF" + nb + "0.00"},
		{"sales", "cash_rounding", "CHF", "", "2", "CHF" + nb + "0.02"},
		{"sales", "overpaid", "CHF", "", "0", "CHF" + nb + "0.00"},
		{"tax", "2.6%_net", "CHF", "", "529", "CHF" + nb + "5.29"},
		{"tax", "2.6%_tax", "CHF", "", "14", "CHF" + nb + "0.14"},
		{"tax", "2.6%_gross", "CHF", "", "543", "CHF" + nb + "5.43"},
		{"tender", "card", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"tender", "card_offline", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"tender", "cash", "CHF", "1", "545", "CHF" + nb + "5.45"},
		{"tender", "twint", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"tender", "mobilepay", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"tender", "sepa_debit", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"corrections", "voids", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"corrections", "refunds", "CHF", "1", "420", "CHF" + nb + "4.20"},
		{"corrections", "open", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"corrections", "open_paid", "CHF", "", "0", "CHF" + nb + "0.00"},
		{"follow_up", "offline_pending", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"follow_up", "payments_failed", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"reconciliation", "captured", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"reconciliation", "cancelled_abandoned", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"reconciliation", "cancelled_duplicate", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"reconciliation", "cancelled_fraudulent", "CHF", "1", "150", "CHF" + nb + "1.50"},
		{"reconciliation", "actions_failed", "CHF", "0", "0", "CHF" + nb + "0.00"},
		{"outbox", "pending", "", "4", "", ""},
		{"outbox", "dead_letters", "", "0", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%q", len(got), len(want), got)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestCSVAddsUp reads the figures back from the CSV alone and checks that
// they add up like the report's.
func TestCSVAddsUp(t *testing.T) {
	r, err := Make(fullDay(t))
	must(t, err)
	recs := readCSV(t, r)
	type key struct{ section, item, cur string }
	amounts := map[key]int64{}
	tenders := map[string]int64{}
	for _, rec := range recs[1:] {
		if rec[4] == "" {
			continue
		}
		a, err := strconv.ParseInt(rec[4], 10, 64)
		must(t, err)
		amounts[key{rec[0], rec[1], rec[2]}] = a
		if rec[0] == "tender" {
			tenders[rec[2]] += a
		}
	}
	for _, c := range r.Currencies {
		cur := c.Currency.Code()
		gross, over := amounts[key{"sales", "gross", cur}], amounts[key{"sales", "overpaid", cur}]
		if gross != c.Gross.Amount || gross == 0 {
			t.Errorf("%s gross %d in the CSV, %v in the report", cur, gross, c.Gross)
		}
		if tenders[cur] != gross+over {
			t.Errorf("%s tenders %d, gross %d + overpaid %d", cur, tenders[cur], gross, over)
		}
		var net, tax int64
		for k, a := range amounts {
			if k.section == "tax" && k.cur == cur && strings.HasSuffix(k.item, "_net") {
				net += a
			}
			if k.section == "tax" && k.cur == cur && strings.HasSuffix(k.item, "_tax") {
				tax += a
			}
		}
		if net+tax+amounts[key{"sales", "cash_rounding", cur}] != gross {
			t.Errorf("%s: rates' net %d + tax %d + rounding != gross %d", cur, net, tax, gross)
		}
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteCSVReportsWriteErrors(t *testing.T) {
	r, err := Make(fullDay(t))
	must(t, err)
	disk := errors.New("disk full")
	err = r.WriteCSV(failingWriter{disk})
	if !errors.Is(err, disk) || !strings.Contains(err.Error(), "write CSV") {
		t.Fatalf("err = %v", err)
	}
}
