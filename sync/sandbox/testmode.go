package sandbox

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
)

// Test data the sandbox recognises: currencies and their minimums, the
// saved-card test PaymentMethods (pm_card_…, tok_…), card_present test
// amounts and SEPA test IBANs. docs/sandbox.md lists them for people.

// minAmount is Stripe's minimum charge amount per currency, in minor units.
// The keys are also the currencies the sandbox accepts.
var minAmount = map[string]int64{
	"usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50,
	"chf": 50, "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400,
	"huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300,
	"nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}

// zeroDecimal currencies have no minor unit.
var zeroDecimal = map[string]bool{"jpy": true}

// maxAmount is Stripe's largest amount (99,999,999 minor units).
const maxAmount = 99_999_999

func formatAmount(amount int64, currency string) string {
	if zeroDecimal[currency] {
		return fmt.Sprintf("%d %s", amount, currency)
	}
	return fmt.Sprintf("%d.%02d %s", amount/100, amount%100, currency)
}

func supportedCurrencies() string {
	out := make([]string, 0, len(minAmount))
	for c := range minAmount {
		out = append(out, c)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Payment method types the sandbox models.
var knownPMTypes = map[string]bool{
	"card": true, "card_present": true, "interac_present": true,
	"twint": true, "mobilepay": true, "sepa_debit": true,
}

// Per-type rules from the seeds.
var (
	twintCurrencies     = []string{"chf"}
	mobilepayCurrencies = []string{"dkk", "eur", "nok", "sek"}
	sepaCurrencies      = []string{"eur"}
	twintMaxAmount      = int64(500_000) // 5,000.00 CHF
)

// testCard is a saved-card test method: its details and what confirming
// it does.
type testCard struct {
	brand, last4, funding string
	outcome               string // "", "3ds", "decline"
	code, declineCode     string
}

var testCards = map[string]testCard{
	"visa":                            {brand: "visa", last4: "4242", funding: "credit"},
	"visa_debit":                      {brand: "visa", last4: "5556", funding: "debit"},
	"mastercard":                      {brand: "mastercard", last4: "4444", funding: "credit"},
	"amex":                            {brand: "amex", last4: "8431", funding: "credit"},
	"authenticationRequired":          {brand: "visa", last4: "3184", funding: "credit", outcome: "3ds"},
	"threeDSecure2Required":           {brand: "visa", last4: "3220", funding: "credit", outcome: "3ds"},
	"chargeDeclined":                  {brand: "visa", last4: "0002", funding: "credit", outcome: "decline", code: "card_declined", declineCode: "generic_decline"},
	"chargeDeclinedInsufficientFunds": {brand: "visa", last4: "9995", funding: "credit", outcome: "decline", code: "card_declined", declineCode: "insufficient_funds"},
	"chargeDeclinedExpiredCard":       {brand: "visa", last4: "0069", funding: "credit", outcome: "decline", code: "expired_card", declineCode: "expired_card"},
	"chargeDeclinedIncorrectCvc":      {brand: "visa", last4: "0127", funding: "credit", outcome: "decline", code: "incorrect_cvc", declineCode: "incorrect_cvc"},
	"chargeDeclinedProcessingError":   {brand: "visa", last4: "0119", funding: "credit", outcome: "decline", code: "processing_error", declineCode: "processing_error"},
}

// lookupTestCard resolves pm_card_<name> and tok_<name>.
func lookupTestCard(id string) (testCard, bool) {
	for _, prefix := range []string{"pm_card_", "tok_"} {
		if name, ok := strings.CutPrefix(id, prefix); ok {
			tc, found := testCards[name]
			return tc, found
		}
	}
	return testCard{}, false
}

// declineMessages are the customer-facing messages Stripe uses.
var declineMessages = map[string]string{
	"generic_decline":                 "Your card was declined.",
	"call_issuer":                     "Your card was declined. The customer needs to contact their card issuer.",
	"insufficient_funds":              "Your card has insufficient funds.",
	"expired_card":                    "Your card has expired.",
	"incorrect_cvc":                   "Your card's security code is incorrect.",
	"processing_error":                "An error occurred while processing your card. Try again in a little bit.",
	"incorrect_pin":                   "The PIN entered is incorrect.",
	"pin_try_exceeded":                "The allowable number of PIN tries has been exceeded.",
	"withdrawal_count_limit_exceeded": "The customer has exceeded the balance or credit limit available on their card.",
	"authentication_required":         "Your card was declined. This transaction requires authentication.",
}

// cardPresentDecline maps the last two digits of a card_present amount to
// a decline code: 00 approves (""), a few endings give specific codes, and
// every other ending declines as generic_decline.
func cardPresentDecline(amount int64) string {
	switch amount % 100 {
	case 0:
		return ""
	case 1:
		return "call_issuer"
	case 5:
		return "generic_decline"
	case 55:
		return "incorrect_pin"
	case 65:
		return "withdrawal_count_limit_exceeded"
	case 75:
		return "pin_try_exceeded"
	default:
		return "generic_decline"
	}
}

// simulatedCards are the reader test helper's simulated cards, named after
// the test payment methods of Stripe's simulated reader. A named card
// decides the outcome whatever the amount; without one, the amount does
// (cardPresentDecline). This lets a demo or a load test approve carts whose
// totals end in any two digits.
var simulatedCards = map[string]struct{ brand, outcome, declineCode string }{
	"":                                   {},
	"visa":                               {"visa", "approve", ""},
	"visa_debit":                         {"visa", "approve", ""},
	"mastercard":                         {"mastercard", "approve", ""},
	"mastercard_debit":                   {"mastercard", "approve", ""},
	"amex":                               {"amex", "approve", ""},
	"discover":                           {"discover", "approve", ""},
	"jcb":                                {"jcb", "approve", ""},
	"diners":                             {"diners", "approve", ""},
	"unionpay":                           {"unionpay", "approve", ""},
	"interac":                            {"interac", "approve", ""},
	"charge_declined":                    {"", "decline", "generic_decline"},
	"charge_declined_insufficient_funds": {"", "decline", "insufficient_funds"},
	"charge_declined_expired_card":       {"", "decline", "expired_card"},
	"charge_declined_processing_error":   {"", "decline", "processing_error"},
}

func simulatedCardNames() []string {
	names := make([]string, 0, len(simulatedCards))
	for n := range simulatedCards {
		if n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// SEPA test IBANs (Stripe's): these fail after processing; any other valid
// IBAN succeeds after processing.
var sepaFailingIBANs = map[string]bool{
	"DE62370400440532013001": true,
	"AT861904300235473202":   true,
}

// validIBAN checks the ISO 13616 mod-97 checksum.
func validIBAN(iban string) bool {
	if len(iban) < 15 || len(iban) > 34 {
		return false
	}
	var digits strings.Builder
	rearranged := iban[4:] + iban[:4]
	for _, c := range rearranged {
		switch {
		case c >= '0' && c <= '9':
			digits.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			fmt.Fprintf(&digits, "%d", c-'A'+10)
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		return false
	}
	return new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func normalizeIBAN(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

var cardBrands = map[string]bool{
	"visa": true, "mastercard": true, "amex": true, "discover": true, "jcb": true,
	"diners": true, "unionpay": true, "interac": true, "eftpos_au": true,
}
