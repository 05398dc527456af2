package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestTypeClassification(t *testing.T) {
	tests := []struct {
		typ                   Type
		request, reply, event bool
		response, forRequest  Type
		name                  string
	}{
		{TypeIdentify, true, false, false, 0x41, 0x01, "Identify"},
		{TypeSetDisplay, true, false, false, 0x42, 0x02, "SetDisplay"},
		{TypeClearDisplay, true, false, false, 0x43, 0x03, "ClearDisplay"},
		{TypeCollect, true, false, false, 0x44, 0x04, "Collect"},
		{TypeCancelCollect, true, false, false, 0x45, 0x05, "CancelCollect"},
		{TypeHeartbeat, true, false, false, 0x46, 0x06, "Heartbeat"},
		{TypeEventAck, true, false, false, 0x47, 0x07, "EventAck"},
		{0x3F, true, false, false, 0x7F, 0x3F, "Type(0x3F)"},
		{0x41, false, true, false, 0x41, TypeIdentify, "IdentifyReply"},
		{0x44, false, true, false, 0x44, TypeCollect, "CollectReply"},
		{0x47, false, true, false, 0x47, TypeEventAck, "EventAckReply"},
		{0x48, false, true, false, 0x48, 0x08, "Type(0x48)"},
		{TypeNak, false, true, false, TypeNak, 0, "Nak"},
		{TypeWaitingForCard, false, false, true, 0xC1, 0x81, "WaitingForCard"},
		{TypeCardPresented, false, false, true, 0xC2, 0x82, "CardPresented"},
		{TypePINEntry, false, false, true, 0xC3, 0x83, "PINEntry"},
		{TypeCardRemoved, false, false, true, 0xC4, 0x84, "CardRemoved"},
		{TypeCustomerCancelled, false, false, true, 0xC5, 0x85, "CustomerCancelled"},
		{TypeCollected, false, false, true, 0xC6, 0x86, "Collected"},
		{TypeError, false, false, true, 0xC7, 0x87, "Error"},
		{0x80, false, false, true, 0xC0, 0x80, "Type(0x80)"},
		{0xBF, false, false, true, 0xFF, 0xBF, "Type(0xBF)"},
		{0x00, false, false, false, 0x40, 0x00, "Type(0x00)"},
		{0x40, false, false, false, 0x40, 0x00, "Type(0x40)"},
		{0xC0, false, false, false, 0xC0, 0x80, "Type(0xC0)"},
		{0xFF, false, false, false, 0xFF, 0xBF, "Type(0xFF)"},
	}
	for _, tc := range tests {
		if got := [3]bool{tc.typ.IsRequest(), tc.typ.IsResponse(), tc.typ.IsEvent()}; got != [3]bool{tc.request, tc.reply, tc.event} {
			t.Errorf("0x%02X: request/response/event = %v", uint8(tc.typ), got)
		}
		if got := tc.typ.Response(); got != tc.response {
			t.Errorf("0x%02X.Response() = 0x%02X, want 0x%02X", uint8(tc.typ), uint8(got), uint8(tc.response))
		}
		if got := tc.typ.Request(); got != tc.forRequest {
			t.Errorf("0x%02X.Request() = 0x%02X, want 0x%02X", uint8(tc.typ), uint8(got), uint8(tc.forRequest))
		}
		if got := tc.typ.String(); got != tc.name {
			t.Errorf("0x%02X.String() = %q, want %q", uint8(tc.typ), got, tc.name)
		}
	}
	// Every request's reply is a response that maps back to it, except
	// 0x3F, whose reply would be Nak: the protocol reserves it.
	if TypeNak != Type(0x3F).Response() {
		t.Errorf("0x3F no longer collides with Nak; update the protocol document")
	}
	for typ := Type(0x01); typ < 0x3F; typ++ {
		if r := typ.Response(); !r.IsResponse() || r.Request() != typ || r == TypeNak {
			t.Errorf("request 0x%02X: reply 0x%02X does not map back", uint8(typ), uint8(r))
		}
	}
}

func TestErrorCodeString(t *testing.T) {
	tests := []struct {
		code ErrorCode
		want string
	}{
		{CodeUnsupportedVersion, "unsupported_version"},
		{CodeUnknownMessage, "unknown_message"},
		{CodeBadPayload, "bad_payload"},
		{CodeBusy, "busy"},
		{CodeNoCollection, "no_collection"},
		{CodeCollectTimeout, "collect_timeout"},
		{CodeCardReadFailed, "card_read_failed"},
		{CodeTooLarge, "too_large"},
		{CodeOfflineNotAllowed, "offline_not_allowed"},
		{CodeInternal, "internal"},
		{CodeNotIdentified, "not_identified"},
		{0, "error_0"},
		{12, "error_12"},
		{65535, "error_65535"},
	}
	for _, tc := range tests {
		if got := tc.code.String(); got != tc.want {
			t.Errorf("ErrorCode(%d).String() = %q, want %q", uint16(tc.code), got, tc.want)
		}
	}
	// The codes are numbered 1..11 with no gaps: the protocol document's
	// table lists exactly these.
	for c := ErrorCode(1); c <= CodeNotIdentified; c++ {
		if strings.HasPrefix(c.String(), "error_") {
			t.Errorf("code %d has no name", uint16(c))
		}
	}
}

func TestReadMethodString(t *testing.T) {
	for m, want := range map[ReadMethod]string{
		ReadContactless: "contactless", ReadChip: "chip", ReadSwipe: "swipe", 0: "read_method_0", 9: "read_method_9",
	} {
		if got := m.String(); got != want {
			t.Errorf("ReadMethod(%d).String() = %q, want %q", uint8(m), got, want)
		}
	}
}

// bigArray is a Cart whose Lines array has n empty lines.
func bigArray(n int) []byte {
	b := []byte{0xA1, 0x02, 0x99, byte(n >> 8), byte(n)}
	return append(b, bytes.Repeat([]byte{0xA0}, n)...)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// rejectCases are payloads Unmarshal must refuse, with the cbor error type
// that says why.
var rejectCases = []struct {
	name    string
	payload []byte
	into    func() any
	errType any // pointer to a pointer to the expected error type
}{
	{"duplicate key", mustHex("a2 01 4101 01 4102"), func() any { return new(Identify) }, new(*cbor.DupMapKeyError)},
	{"duplicate key in nested map", mustHex("a1 05 a2 04 f5 04 f4"), func() any { return new(Info) }, new(*cbor.DupMapKeyError)},
	{"duplicate unknown key", mustHex("a2 18 63 00 18 63 01"), func() any { return new(Heartbeat) }, new(*cbor.DupMapKeyError)},
	{"indefinite map", mustHex("bf 01 4101 ff"), func() any { return new(Identify) }, new(*cbor.IndefiniteLengthError)},
	{"indefinite array", mustHex("a1 02 9f a0 ff"), func() any { return new(Cart) }, new(*cbor.IndefiniteLengthError)},
	{"indefinite text", mustHex("a1 01 7f 6170 6169 ff"), func() any { return new(CancelCollect) }, new(*cbor.IndefiniteLengthError)},
	{"indefinite bytes", mustHex("a1 02 5f 4101 ff"), func() any { return new(Collected) }, new(*cbor.IndefiniteLengthError)},
	{"tag on message", mustHex("d9d9f7 a0"), func() any { return new(Heartbeat) }, new(*cbor.TagsMdError)},
	{"tag on field", mustHex("a1 02 c2 41 01"), func() any { return new(Collect) }, new(*cbor.TagsMdError)},
	{"tag in unknown key", mustHex("a1 18 63 c1 00"), func() any { return new(Heartbeat) }, new(*cbor.TagsMdError)},
	{"513 cart lines", bigArray(513), func() any { return new(Cart) }, new(*cbor.MaxArrayElementsError)},
	{"65 map pairs", append([]byte{0xB8, 65}, func() []byte {
		var b []byte
		for k := 0; k < 65; k++ {
			b = append(b, 0x18, byte(k+24), 0x00)
		}
		return b
	}()...), func() any { return new(Heartbeat) }, new(*cbor.MaxMapPairsError)},
	{"nesting over 8", mustHex("a1 18 63 81 81 81 81 81 81 81 81 00"), func() any { return new(Heartbeat) }, new(*cbor.MaxNestedLevelError)},
	{"text for integer", mustHex("a1 02 63 343230"), func() any { return new(Collect) }, new(*cbor.UnmarshalTypeError)},
	{"integer for text", mustHex("a1 01 01"), func() any { return new(Collect) }, new(*cbor.UnmarshalTypeError)},
	{"integer for bool", mustHex("a1 04 01"), func() any { return new(Collect) }, new(*cbor.UnmarshalTypeError)},
	{"negative for unsigned", mustHex("a1 01 20"), func() any { return new(EventAck) }, new(*cbor.UnmarshalTypeError)},
	{"seq over 16 bits", mustHex("a1 01 1a 00010000"), func() any { return new(EventAck) }, new(*cbor.UnmarshalTypeError)},
	{"quantity over 32 bits", mustHex("a1 02 1b 0000000100000000"), func() any { return new(Line) }, new(*cbor.UnmarshalTypeError)},
	{"amount over int64", mustHex("a1 02 1b 8000000000000000"), func() any { return new(Collect) }, new(*cbor.UnmarshalTypeError)},
	{"float for integer", mustHex("a1 02 fb 40b0680000000000"), func() any { return new(Collect) }, new(*cbor.UnmarshalTypeError)},
	{"array for message", mustHex("81 01"), func() any { return new(Identify) }, new(*cbor.UnmarshalTypeError)},
	{"text for nested map", mustHex("a1 02 60"), func() any { return new(Display) }, new(*cbor.UnmarshalTypeError)},
	{"text for payload bytes", mustHex("a1 02 61 78"), func() any { return new(Collected) }, new(*cbor.UnmarshalTypeError)},
	{"invalid UTF-8", mustHex("a1 01 62 c328"), func() any { return new(WaitingForCard) }, new(*cbor.SemanticError)},
	{"trailing bytes", mustHex("a0 00"), func() any { return new(Heartbeat) }, new(*cbor.ExtraneousDataError)},
	{"second message", mustHex("a0 a0"), func() any { return new(Heartbeat) }, new(*cbor.ExtraneousDataError)},
	{"truncated", mustHex("a2 01 4101"), func() any { return new(Identify) }, nil},
	{"truncated text", mustHex("a1 01 65 7069"), func() any { return new(CardRemoved) }, nil},
	{"reserved additional info", mustHex("a1 01 1c"), func() any { return new(EventAck) }, new(*cbor.SyntaxError)},
}

func TestUnmarshalRejects(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.into()
			err := Unmarshal(tc.payload, v)
			if err == nil {
				t.Fatalf("Unmarshal(%x) into %T accepted: %+v", tc.payload, v, v)
			}
			if !strings.HasPrefix(err.Error(), "decode *wire.") {
				t.Errorf("error %q does not name the operation", err)
			}
			if tc.errType != nil && !errors.As(err, tc.errType) {
				t.Errorf("error %v (%T) is not a %T", err, errors.Unwrap(err), reflect.ValueOf(tc.errType).Elem().Interface())
			}
		})
	}
}

// TestUnmarshalUnknownKeys: a newer peer's extra keys, of any type, are
// skipped and the known ones still decoded.
func TestUnmarshalUnknownKeys(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		into    any
		want    any
	}{
		{"unknown after known", mustHex("a2 01 6470695f31 18 63 f5"), new(CardRemoved), &CardRemoved{PaymentIntent: "pi_1"}},
		{"unknown before known", mustHex("a2 00 a1 01 82 01 02 01 4102"), new(Identify), &Identify{Versions: []uint8{2}}},
		{"negative key", mustHex("a2 20 63 616263 01 1818"), new(EventAck), &EventAck{Seq: 24}},
		{"big key", mustHex("a2 01 04 1b ffffffffffffffff 5801 00"), new(Nak), &Nak{Code: CodeBusy}},
		{"unknown in nested map", mustHex("a1 05 a2 09 f5 0a 82 01 02"), new(Info), &Info{Capabilities: Capabilities{QR: true}}},
		{"unknown in cart line", mustHex("a1 02 81 a2 01 6178 07 fb 3ff0000000000000"), new(Cart), &Cart{Lines: []Line{{Name: "x"}}}},
		{"only unknown", mustHex("a1 0f 6568656c6c6f"), new(Heartbeat), &Heartbeat{}},
		{"null for optional pointer", mustHex("a2 01 01 02 f6"), new(Display), &Display{Screen: ScreenCart}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Unmarshal(tc.payload, tc.into); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.into, tc.want) {
				t.Fatalf("got %+v, want %+v", tc.into, tc.want)
			}
		})
	}
}

// TestUnmarshalZeroes: an empty payload is the zero message, and a reused
// struct keeps nothing from its previous contents.
func TestUnmarshalZeroes(t *testing.T) {
	for _, tc := range messageCases {
		if tc.msg == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			v := reflect.New(reflect.TypeOf(tc.msg).Elem())
			zero := reflect.Zero(v.Elem().Type()).Interface()
			for _, empty := range [][]byte{nil, {}, {0xA0}} {
				v.Elem().Set(reflect.ValueOf(tc.msg).Elem()) // stale contents
				if err := Unmarshal(empty, v.Interface()); err != nil {
					t.Fatalf("Unmarshal(%x): %v", empty, err)
				}
				if !reflect.DeepEqual(v.Elem().Interface(), zero) {
					t.Fatalf("Unmarshal(%x) left %+v", empty, v.Elem().Interface())
				}
			}
		})
	}
	c := Collected{PaymentIntent: "pi_old", Brand: "visa", Last4: "4242", Offline: true}
	if err := Unmarshal(mustHex("a1 01 6670695f6e6577"), &c); err != nil {
		t.Fatal(err)
	}
	if want := (Collected{PaymentIntent: "pi_new"}); !reflect.DeepEqual(c, want) {
		t.Fatalf("reused Collected = %+v, want %+v", c, want)
	}
}

func TestUnmarshalNotPointer(t *testing.T) {
	var nilPtr *Identify
	for _, v := range []any{Identify{}, nil, nilPtr} {
		if err := Unmarshal([]byte{0xA0}, v); err == nil {
			t.Errorf("Unmarshal into %T (%v) succeeded", v, v)
		}
		if err := Unmarshal(nil, v); err == nil {
			t.Errorf("Unmarshal(nil) into %T (%v) succeeded", v, v)
		}
	}
}

// TestVersionsAcceptArray: Versions goes out as a byte string (Go's
// []uint8); an array of small integers from a peer means the same.
func TestVersionsAcceptArray(t *testing.T) {
	var a, b Identify
	if err := Unmarshal(mustHex("a1 01 42 0102"), &a); err != nil {
		t.Fatal(err)
	}
	if err := Unmarshal(mustHex("a1 01 82 01 02"), &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || !bytes.Equal(a.Versions, []uint8{1, 2}) {
		t.Fatalf("byte string %+v, array %+v", a, b)
	}
}

// TestUnmarshalCopies: decoded byte and text strings do not alias the
// payload, which itself aliases the Decoder's buffer (Collected.Payload
// outlives the frame).
func TestUnmarshalCopies(t *testing.T) {
	want := &Collected{PaymentIntent: "pi_1", Payload: []byte("sealed card"), Brand: "visa", Last4: "4242", Method: ReadChip}
	p, err := Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Collected
	if err := Unmarshal(p, &got); err != nil {
		t.Fatal(err)
	}
	for i := range p {
		p[i] = 0
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("after overwriting the payload: %+v", got)
	}
}
