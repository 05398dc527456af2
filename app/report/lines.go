package report

import (
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

// Line is one printable line of the report: a label and its value, a
// heading (Heading, label only or with a value), or a horizontal rule
// (Rule, no text).
type Line struct {
	Label, Value string
	Heading      bool
	Rule         bool
}

// Label returns the translated name of the tender row.
func (t Tender) Label() string {
	switch t {
	case Card:
		return lang.L("Card")
	case CardOffline:
		return lang.L("Card, offline")
	case Cash:
		return lang.L("Cash")
	case Twint:
		return "TWINT"
	case MobilePay:
		return "MobilePay"
	case SEPADebit:
		return lang.L("SEPA debit")
	}
	return string(t)
}

// Lines returns the report as printable lines, in the language of the
// loaded translation catalogs (labels go through lang.L) and with money,
// numbers and dates formatted for r.Locale. The PNG and the screen show
// exactly these lines. Tender rows that took nothing are left out; the
// other figures are shown even when zero, so that a zero is seen to be
// zero rather than forgotten.
func (r Report) Lines() []Line {
	f := newFormatter(r.Locale)
	loc := r.From.Location()
	ls := []Line{
		{Label: lang.L("Z report"), Heading: true},
		{Label: lang.L("Lane"), Value: r.Lane},
		{Label: lang.L("Period"), Value: f.period(r.From, r.To)},
		{Label: lang.L("Generated"), Value: f.dateTime(r.GeneratedAt.In(loc))},
	}
	if len(r.Currencies) == 0 {
		ls = append(ls, Line{Rule: true}, Line{Label: lang.L("No sales and no payments in this period")})
	}
	for _, c := range r.Currencies {
		ls = append(ls, Line{Rule: true}, Line{Label: c.Currency.Code(), Heading: true})
		ls = c.lines(ls, f)
	}
	return append(ls,
		Line{Rule: true},
		Line{Label: lang.L("Outbox pending"), Value: f.count(r.OutboxPending)},
		Line{Label: lang.L("Dead letters"), Value: f.count(r.DeadLetters)},
	)
}

func (c CurrencyTotals) lines(ls []Line, f *formatter) []Line {
	m := f.money
	tally := func(label string, t Tally) Line {
		return Line{Label: label + " (" + f.count(t.Count) + ")", Value: m(t.Amount)}
	}
	vat := lang.L("VAT")
	switch {
	case len(c.TaxModes) == 1 && c.TaxModes[0] == order.TaxInclusive:
		vat = lang.L("VAT included")
	case len(c.TaxModes) == 1 && c.TaxModes[0] == order.TaxExclusive:
		vat = lang.L("VAT added")
	}
	ls = append(ls,
		Line{Label: lang.L("Sales"), Value: f.count(c.Sales)},
		Line{Label: lang.L("Gross"), Value: m(c.Gross)},
		Line{Label: lang.L("Net"), Value: m(c.Net)},
		Line{Label: vat, Value: m(c.Tax)},
	)
	for _, tr := range c.TaxRates {
		rate := map[string]any{"Rate": f.rate(tr.Rate)}
		ls = append(ls,
			Line{Label: "  " + lang.L("Net at {{.Rate}}", rate), Value: m(tr.Net)},
			Line{Label: "  " + lang.L("VAT at {{.Rate}}", rate), Value: m(tr.Tax)},
		)
	}
	ls = append(ls,
		Line{Label: lang.L("Discounts given"), Value: m(c.Discounts)},
		Line{Label: lang.L("Cash rounding"), Value: m(c.CashRounding)},
	)
	if !c.Overpaid.IsZero() {
		ls = append(ls, Line{Label: lang.L("Cash overpaid"), Value: m(c.Overpaid)})
	}
	ls = append(ls, Line{Label: lang.L("Payments"), Heading: true})
	took := false
	for _, t := range c.Tenders {
		if t.Count > 0 {
			ls, took = append(ls, tally(t.Tender.Label(), t.Tally)), true
		}
	}
	if !took {
		ls = append(ls, Line{Label: lang.L("No payments")})
	}
	ls = append(ls,
		Line{Label: lang.L("Corrections and open sales"), Heading: true},
		tally(lang.L("Voids"), c.Voids),
		tally(lang.L("Refunds"), c.Refunds),
		tally(lang.L("Still open"), c.Open),
	)
	if !c.OpenPaid.IsZero() {
		ls = append(ls, Line{Label: "  " + lang.L("Already paid on open sales"), Value: m(c.OpenPaid)})
	}
	ls = append(ls,
		Line{Label: lang.L("To follow up"), Heading: true},
		tally(lang.L("Offline, not forwarded"), c.OfflinePending),
		tally(lang.L("Failed after the sale"), c.PaymentsFailed),
		Line{Label: lang.L("Reconciliation"), Heading: true},
		tally(lang.L("Captured"), c.Captured),
	)
	for _, cn := range c.Cancelled {
		ls = append(ls, tally(cancelLabel(cn.Reason), cn.Tally))
	}
	return append(ls, tally(lang.L("Failed actions"), c.ActionsFailed))
}

func cancelLabel(reason string) string {
	switch reason {
	case ReasonAbandoned:
		return lang.L("Cancelled, abandoned")
	case ReasonDuplicate:
		return lang.L("Cancelled, duplicate")
	case "unspecified":
		return lang.L("Cancelled, no reason")
	}
	return lang.L("Cancelled") + ", " + reason
}

// formatter formats numbers and dates for a locale.
type formatter struct {
	tag     language.Tag
	printer *message.Printer
	decimal string
	date    string // time layout of a date
	clock   string // time layout of a time of day
}

func newFormatter(tag language.Tag) *formatter {
	latn, err := tag.SetTypeForKey("nu", "latn")
	if err != nil {
		latn = tag
	}
	f := &formatter{tag: tag, printer: message.NewPrinter(latn)}
	// The locale's decimal separator, as money formats it: "0.00" → ".".
	f.decimal = strings.Trim(money.Zero(money.EUR).FormatNumber(tag), "0")
	if f.decimal == "" {
		f.decimal = "."
	}
	f.date, f.clock = layouts(tag)
	return f
}

func (f *formatter) money(m money.Money) string { return m.Format(f.tag) }

func (f *formatter) count(n int) string { return f.printer.Sprint(number.Decimal(n)) }

// rate formats basis points as a percentage without trailing zeros:
// 810 → "8.1%" (en), "8,1 %" (de, fr: CLDR puts a space before %).
func (f *formatter) rate(bp int) string {
	s := strconv.Itoa(bp / 100)
	if frac := bp % 100; frac != 0 {
		s += f.decimal + strings.TrimRight(strconv.Itoa(100 + frac)[1:], "0")
	}
	if base, _ := f.tag.Base(); base.String() == "en" || base.String() == "ja" || base.String() == "zh" {
		return s + "%"
	}
	return s + "\u00a0%"
}

func (f *formatter) dateTime(t time.Time) string {
	return t.Format(f.date + " " + f.clock)
}

// period shows a whole local calendar day as its date, anything else as
// "from – to".
func (f *formatter) period(from, to time.Time) string {
	to = to.In(from.Location())
	y, m, d := from.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, from.Location())
	if from.Equal(midnight) && to.Equal(midnight.AddDate(0, 0, 1)) {
		return from.Format(f.date)
	}
	return f.dateTime(from) + " – " + f.dateTime(to)
}

// dateLayouts are CLDR's short numeric date patterns, with four-digit
// years, for the languages a till is likely to run in; region entries win
// over their language. Go has no CLDR date formatting (nor does x/text),
// and a Z report needs only these two fields.
var dateLayouts = map[string]string{
	"en": "1/2/2006", "en-GB": "02/01/2006", "en-IE": "02/01/2006", "en-AU": "02/01/2006",
	"en-NZ": "02/01/2006", "en-IN": "02/01/2006", "en-CH": "02.01.2006", "en-DE": "02.01.2006",
	"en-CA": "2006-01-02", "en-150": "02/01/2006",
	"de": "02.01.2006", "fr": "02/01/2006", "fr-CH": "02.01.2006", "fr-CA": "2006-01-02",
	"it": "02/01/2006", "it-CH": "02.01.2006", "rm": "02-01-2006", "es": "2/1/2006",
	"pt": "02/01/2006", "nl": "02-01-2006", "da": "02.01.2006", "sv": "2006-01-02",
	"nb": "02.01.2006", "nn": "02.01.2006", "no": "02.01.2006", "fi": "2.1.2006",
	"is": "2.1.2006", "pl": "02.01.2006", "cs": "02.01.2006", "ru": "02.01.2006",
	"ja": "2006/01/02", "zh": "2006/1/2",
}

// twelveHour lists the locales (of those above) whose clocks read 12-hour.
var twelveHour = map[string]bool{"en": true, "en-AU": true, "en-NZ": true, "en-IN": true, "en-CA": true}

func layouts(tag language.Tag) (date, clock string) {
	base, _ := tag.Base()
	keys := []string{base.String()}
	if region, conf := tag.Region(); conf == language.Exact {
		keys = append([]string{base.String() + "-" + region.String()}, keys...)
	}
	date, clock = "2006-01-02", "15:04" // ISO 8601 for anything unlisted
	for _, k := range keys {
		if d, ok := dateLayouts[k]; ok {
			date = d
			if twelveHour[k] {
				clock = "3:04 PM"
			}
			break
		}
	}
	return date, clock
}
