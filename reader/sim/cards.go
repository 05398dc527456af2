package sim

import "github.com/tillpos/till/reader/wire"

// testCard is a card the simulator can present: a sandbox test card name
// with the brand and last four digits a receipt shows for it.
type testCard struct {
	name, brand, last4 string
}

// testCards are the sandbox's simulated reader cards (sync/sandbox), the
// approving ones first. The empty name lets the amount decide.
var testCards = []testCard{
	{"visa", "visa", "4242"},
	{"visa_debit", "visa", "5556"},
	{"mastercard", "mastercard", "4444"},
	{"mastercard_debit", "mastercard", "8210"},
	{"amex", "amex", "8431"},
	{"discover", "discover", "1117"},
	{"jcb", "jcb", "0505"},
	{"diners", "diners", "0004"},
	{"unionpay", "unionpay", "0005"},
	{"interac", "interac", "0000"},
	{"charge_declined", "visa", "0002"},
	{"charge_declined_insufficient_funds", "visa", "9995"},
	{"charge_declined_expired_card", "visa", "0069"},
	{"charge_declined_processing_error", "visa", "0119"},
}

// DeclineCard is the card the window's "Decline card" button presents.
const DeclineCard = "charge_declined"

// TestCards returns the names of the cards Tap, Insert and Swipe accept,
// approving cards first, then declining ones. The empty name, not listed,
// is accepted too: a Visa whose outcome the amount decides.
func TestCards() []string {
	names := make([]string, len(testCards))
	for i, c := range testCards {
		names[i] = c.name
	}
	return names
}

func lookupCard(name string) (testCard, bool) {
	if name == "" {
		return testCard{"", "visa", "4242"}, true
	}
	for _, c := range testCards {
		if c.name == name {
			return c, true
		}
	}
	return testCard{}, false
}

// readMethodName is the payment API's name for a read method.
func readMethodName(m wire.ReadMethod) string {
	switch m {
	case wire.ReadChip:
		return "contact_emv"
	case wire.ReadSwipe:
		return "magnetic_stripe_track2"
	}
	return "contactless_emv"
}
