package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tillpos/till/app/money"
)

// CSVHeader is the first record WriteCSV writes.
var CSVHeader = []string{"section", "item", "currency", "count", "amount_minor", "amount"}

// WriteCSV writes the report for spreadsheets and accounting imports
// (encoding/csv: comma-separated, quoted where needed, LF line ends).
// Columns:
//
//	section       report, sales, tax, tender, corrections, follow_up,
//	              reconciliation, outbox
//	item          a stable English key ("gross", "card_offline",
//	              "8.1%_tax", "cancelled_abandoned", …), never translated
//	currency      ISO 4217 code, empty for rows without money
//	count         how many, empty where it does not apply
//	amount_minor  the exact amount in minor units (integer), or empty
//	amount        the same amount formatted for the report's locale
//
// The section "report" rows carry their value (lane, RFC 3339 times,
// locale) in the amount column. Unlike Lines, every tender row is written,
// zero or not, so that columns line up day after day.
func (r Report) WriteCSV(w io.Writer) error {
	// A csv.Writer buffers through a bufio.Writer, whose errors are
	// sticky: the first write error is the one Error reports after Flush.
	cw := csv.NewWriter(w)
	f := newFormatter(r.Locale)
	rec := func(section, item string, cur money.Currency, count *int, m *money.Money) {
		row := []string{section, item, cur.Code(), "", "", ""}
		if count != nil {
			row[3] = strconv.Itoa(*count)
		}
		if m != nil {
			row[4] = strconv.FormatInt(m.Amount, 10)
			row[5] = f.money(*m)
		}
		_ = cw.Write(row)
	}
	info := func(item, value string) { _ = cw.Write([]string{"report", item, "", "", "", value}) }
	_ = cw.Write(CSVHeader)
	info("lane", r.Lane)
	info("from", r.From.Format(time.RFC3339))
	info("to", r.To.Format(time.RFC3339))
	info("generated_at", r.GeneratedAt.Format(time.RFC3339))
	info("locale", r.Locale.String())
	for _, c := range r.Currencies {
		cur := c.Currency
		tally := func(section, item string, t Tally) { rec(section, item, cur, &t.Count, &t.Amount) }
		amount := func(section, item string, m money.Money) { rec(section, item, cur, nil, &m) }
		rec("sales", "gross", cur, &c.Sales, &c.Gross)
		amount("sales", "net", c.Net)
		amount("sales", "tax", c.Tax)
		amount("sales", "discounts", c.Discounts)
		amount("sales", "cash_rounding", c.CashRounding)
		amount("sales", "overpaid", c.Overpaid)
		for _, tr := range c.TaxRates {
			p := csvRate(tr.Rate)
			amount("tax", p+"_net", tr.Net)
			amount("tax", p+"_tax", tr.Tax)
			amount("tax", p+"_gross", tr.Gross)
		}
		for _, t := range c.Tenders {
			tally("tender", string(t.Tender), t.Tally)
		}
		tally("corrections", "voids", c.Voids)
		tally("corrections", "refunds", c.Refunds)
		tally("corrections", "open", c.Open)
		amount("corrections", "open_paid", c.OpenPaid)
		tally("follow_up", "offline_pending", c.OfflinePending)
		tally("follow_up", "payments_failed", c.PaymentsFailed)
		tally("reconciliation", "captured", c.Captured)
		for _, cn := range c.Cancelled {
			tally("reconciliation", "cancelled_"+cn.Reason, cn.Tally)
		}
		tally("reconciliation", "actions_failed", c.ActionsFailed)
	}
	var none money.Currency
	rec("outbox", "pending", none, &r.OutboxPending, nil)
	rec("outbox", "dead_letters", none, &r.DeadLetters, nil)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	return nil
}

// csvRate renders basis points as a locale-independent percentage:
// 810 → "8.1%", 2600 → "26%", 250 → "2.5%".
func csvRate(bp int) string {
	s := strconv.Itoa(bp / 100)
	if frac := bp % 100; frac != 0 {
		s += "." + strings.TrimRight(strconv.Itoa(100 + frac)[1:], "0")
	}
	return s + "%"
}
