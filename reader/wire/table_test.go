package wire

import (
	"fmt"
	"reflect"
)

// messageCase is one message as it travels: the frame type and its
// payload struct (nil for the types that carry no payload).
type messageCase struct {
	name string
	typ  Type
	msg  any // pointer to a message struct, or nil
}

// payloadKinds lists every payload struct, for the fuzzers to pick from.
var payloadKinds = []func() any{
	func() any { return new(Identify) },
	func() any { return new(Info) },
	func() any { return new(Display) },
	func() any { return new(Collect) },
	func() any { return new(CancelCollect) },
	func() any { return new(Heartbeat) },
	func() any { return new(EventAck) },
	func() any { return new(Nak) },
	func() any { return new(WaitingForCard) },
	func() any { return new(CardPresented) },
	func() any { return new(PINEntry) },
	func() any { return new(CardRemoved) },
	func() any { return new(CustomerCancelled) },
	func() any { return new(Collected) },
	func() any { return new(ErrorEvent) },
	func() any { return new(Capabilities) },
	func() any { return new(Cart) },
	func() any { return new(Line) },
	func() any { return new(QR) },
}

// kindOf is the index in payloadKinds of msg's type.
func kindOf(msg any) byte {
	t := reflect.TypeOf(msg)
	for i, k := range payloadKinds {
		if reflect.TypeOf(k()) == t {
			return byte(i)
		}
	}
	panic(fmt.Sprintf("no payload kind for %T", msg))
}

// cart20 is a realistic till cart: 20 lines, French names with accents.
func cart20() *Cart {
	c := &Cart{Currency: "eur"}
	names := []string{
		"Baguette tradition", "Croissant au beurre", "Pain au chocolat", "Café crème",
		"Éclair au café", "Tarte aux pommes", "Jus d'orange pressé", "Quiche lorraine",
		"Sandwich jambon-beurre", "Macaron framboise", "Chausson aux pommes", "Brioche tressée",
		"Fougasse aux olives", "Thé vert à la menthe", "Madeleine × 6", "Financier amande",
		"Pain de campagne 1 kg", "Flan pâtissier", "Eau minérale 50 cl", "Chouquettes × 10",
	}
	for i, n := range names {
		q := int32(i%3 + 1)
		amt := int64(q) * int64(120+37*i)
		c.Lines = append(c.Lines, Line{Name: n, Quantity: q, Amount: amt})
		c.Subtotal += amt
	}
	c.Tax = c.Subtotal * 55 / 1055 // 5.5 % VAT included
	c.Total = c.Subtotal
	return c
}

// messageCases covers every message type, each payload struct with every
// field set, and the edge values of each field's CBOR type.
var messageCases = []messageCase{
	{"identify", TypeIdentify, &Identify{Versions: []uint8{1}, Host: "Till 1.2.0 lane_1"}},
	{"identify several versions", TypeIdentify, &Identify{Versions: []uint8{1, 2, 255}}},
	{"identify reply", TypeIdentify.Response(), &Info{
		Version: 1, Model: "TR-100", Serial: "SN-000042", Firmware: "1.0.3",
		Capabilities: Capabilities{
			DisplayWidth: 480, DisplayHeight: 320, DisplayLines: 8, Contactless: true, Chip: true,
			Swipe: true, PINPad: true, OfflineCapable: true, QR: true,
		},
	}},
	{"identify reply no capabilities", TypeIdentify.Response(), &Info{Version: 1, Model: "m", Serial: "s", Firmware: "f"}},
	{"set display cart", TypeSetDisplay, &Display{Screen: ScreenCart, Cart: cart20(), Language: "fr-FR"}},
	{"set display empty cart", TypeSetDisplay, &Display{Screen: ScreenCart, Cart: &Cart{Currency: "chf", Lines: []Line{}}}},
	{"set display refund line", TypeSetDisplay, &Display{Screen: ScreenCart, Cart: &Cart{
		Currency: "jpy", Lines: []Line{{Name: "返品", Quantity: -1, Amount: -1500}}, Subtotal: -1500, Total: -1500,
	}}},
	{"set display qr", TypeSetDisplay, &Display{Screen: ScreenQR, QR: &QR{
		Payload: "https://pay.example/twint/redirect?pi=pi_123&x=%20", Caption: "Scan with TWINT", ExpiresIn: 300,
	}}},
	{"set display thank you", TypeSetDisplay, &Display{Screen: ScreenThankYou, Message: "Merci et à bientôt !"}},
	{"set display message", TypeSetDisplay, &Display{Screen: ScreenMessage, Message: "Please wait…", Language: "en"}},
	{"set display idle", TypeSetDisplay, &Display{Screen: ScreenIdle}},
	{"set display reply", TypeSetDisplay.Response(), nil},
	{"clear display", TypeClearDisplay, nil},
	{"clear display reply", TypeClearDisplay.Response(), nil},
	{"collect", TypeCollect, &Collect{
		PaymentIntent: "pi_3QxYz2LkdIwHu7ix0a1b2c3d", Amount: 4200, Currency: "eur",
		CustomerCancel: true, OfflineAllowed: true, TimeoutMS: 60000,
	}},
	{"collect max amount", TypeCollect, &Collect{PaymentIntent: "pi_x", Amount: 1<<63 - 1, Currency: "usd", TimeoutMS: 1<<32 - 1}},
	{"collect reply", TypeCollect.Response(), nil},
	{"cancel collect", TypeCancelCollect, &CancelCollect{PaymentIntent: "pi_3QxYz2LkdIwHu7ix0a1b2c3d"}},
	{"cancel collect reply", TypeCancelCollect.Response(), nil},
	{"heartbeat", TypeHeartbeat, &Heartbeat{}},
	{"heartbeat reply", TypeHeartbeat.Response(), nil},
	{"event ack", TypeEventAck, &EventAck{Seq: 65535}},
	{"event ack reply", TypeEventAck.Response(), nil},
	{"nak", TypeNak, &Nak{Code: CodeBusy, Message: "collecting pi_1"}},
	{"nak unsupported version", TypeNak, &Nak{Code: CodeUnsupportedVersion, Versions: []uint8{1}}},
	{"nak unknown code", TypeNak, &Nak{Code: 65535}},
	{"waiting for card", TypeWaitingForCard, &WaitingForCard{PaymentIntent: "pi_1"}},
	{"card presented", TypeCardPresented, &CardPresented{PaymentIntent: "pi_1", Method: ReadChip}},
	{"pin entry digits", TypePINEntry, &PINEntry{PaymentIntent: "pi_1", Digits: 3}},
	{"pin entry done", TypePINEntry, &PINEntry{PaymentIntent: "pi_1", Digits: 4, Done: true}},
	{"card removed", TypeCardRemoved, &CardRemoved{PaymentIntent: "pi_1"}},
	{"customer cancelled", TypeCustomerCancelled, &CustomerCancelled{PaymentIntent: "pi_1"}},
	{"collected", TypeCollected, &Collected{
		PaymentIntent: "pi_1", Payload: []byte{0x01, 0x00, 0xFF, 'T', 'L', 0x54, 0x4C, 0x00},
		Brand: "visa", Last4: "4242", Method: ReadContactless, ExpMonth: 12, ExpYear: 2034, Offline: true,
	}},
	{"collected large payload", TypeCollected, &Collected{
		PaymentIntent: "pi_1", Payload: make([]byte, 4096), Brand: "mastercard", Last4: "0005", Method: ReadSwipe,
	}},
	{"error", TypeError, &ErrorEvent{PaymentIntent: "pi_1", Code: CodeCollectTimeout, Message: "no card in 60 s"}},
	{"error no message", TypeError, &ErrorEvent{PaymentIntent: "pi_1", Code: CodeCardReadFailed}},
}
