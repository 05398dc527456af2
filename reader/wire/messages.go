package wire

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Type is a frame's message type. Requests (host → reader) are 0x01–0x3F;
// the reader answers request T with T|0x40, or with Nak. Events (reader →
// host, unsolicited) are 0x80–0xBF and carry the reader's own sequence
// numbers; the host acknowledges each with EventAck.
type Type uint8

// Requests.
const (
	TypeIdentify      Type = 0x01
	TypeSetDisplay    Type = 0x02
	TypeClearDisplay  Type = 0x03
	TypeCollect       Type = 0x04
	TypeCancelCollect Type = 0x05
	TypeHeartbeat     Type = 0x06
	TypeEventAck      Type = 0x07
)

// Replies.
const (
	responseBit Type = 0x40
	// TypeNak answers any request the reader refuses, with a Nak payload.
	TypeNak Type = 0x7F
)

// Events.
const (
	TypeWaitingForCard    Type = 0x81
	TypeCardPresented     Type = 0x82
	TypePINEntry          Type = 0x83
	TypeCardRemoved       Type = 0x84
	TypeCustomerCancelled Type = 0x85
	TypeCollected         Type = 0x86
	TypeError             Type = 0x87
)

// IsRequest, IsResponse and IsEvent classify a type by its range.
func (t Type) IsRequest() bool  { return t >= 0x01 && t <= 0x3F }
func (t Type) IsResponse() bool { return t >= 0x41 && t <= 0x7F }
func (t Type) IsEvent() bool    { return t >= 0x80 && t <= 0xBF }

// Response is the type that answers request t.
func (t Type) Response() Type { return t | responseBit }

// Request is the request type a response answers (zero for Nak).
func (t Type) Request() Type {
	if t == TypeNak {
		return 0
	}
	return t &^ responseBit
}

var typeNames = map[Type]string{
	TypeIdentify: "Identify", TypeSetDisplay: "SetDisplay", TypeClearDisplay: "ClearDisplay",
	TypeCollect: "Collect", TypeCancelCollect: "CancelCollect", TypeHeartbeat: "Heartbeat",
	TypeEventAck: "EventAck", TypeNak: "Nak",
	TypeWaitingForCard: "WaitingForCard", TypeCardPresented: "CardPresented", TypePINEntry: "PINEntry",
	TypeCardRemoved: "CardRemoved", TypeCustomerCancelled: "CustomerCancelled", TypeCollected: "Collected",
	TypeError: "Error",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	if t.IsResponse() {
		if n, ok := typeNames[t.Request()]; ok {
			return n + "Reply"
		}
	}
	return fmt.Sprintf("Type(0x%02X)", uint8(t))
}

// ErrorCode is the reason in a Nak or an Error event.
type ErrorCode uint16

// Error codes.
const (
	CodeUnsupportedVersion ErrorCode = 1  // frame version not spoken; Nak carries Versions
	CodeUnknownMessage     ErrorCode = 2  // request type not known
	CodeBadPayload         ErrorCode = 3  // payload not valid CBOR or missing fields
	CodeBusy               ErrorCode = 4  // a collection is already running
	CodeNoCollection       ErrorCode = 5  // CancelCollect with nothing to cancel
	CodeCollectTimeout     ErrorCode = 6  // no card within the collection timeout
	CodeCardReadFailed     ErrorCode = 7  // the card could not be read; try again
	CodeTooLarge           ErrorCode = 8  // display content over the reader's limits
	CodeOfflineNotAllowed  ErrorCode = 9  // the reader cannot reach its processor and offline was not allowed
	CodeInternal           ErrorCode = 10 // reader fault
	CodeNotIdentified      ErrorCode = 11 // a request before Identify
)

var codeNames = map[ErrorCode]string{
	CodeUnsupportedVersion: "unsupported_version", CodeUnknownMessage: "unknown_message",
	CodeBadPayload: "bad_payload", CodeBusy: "busy", CodeNoCollection: "no_collection",
	CodeCollectTimeout: "collect_timeout", CodeCardReadFailed: "card_read_failed",
	CodeTooLarge: "too_large", CodeOfflineNotAllowed: "offline_not_allowed",
	CodeInternal: "internal", CodeNotIdentified: "not_identified",
}

func (c ErrorCode) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("error_%d", uint16(c))
}

// Identify opens a session: the host lists the protocol versions it speaks.
type Identify struct {
	Versions []uint8 `cbor:"1,keyasint"`
	Host     string  `cbor:"2,keyasint,omitempty"` // e.g. "Till 1.2.0 lane_1"
}

// Info answers Identify.
type Info struct {
	Version      uint8        `cbor:"1,keyasint"` // the version chosen for the session
	Model        string       `cbor:"2,keyasint"`
	Serial       string       `cbor:"3,keyasint"`
	Firmware     string       `cbor:"4,keyasint"`
	Capabilities Capabilities `cbor:"5,keyasint"`
}

// Capabilities is what the reader can do.
type Capabilities struct {
	DisplayWidth   uint16 `cbor:"1,keyasint,omitempty"` // pixels; 0 = no display
	DisplayHeight  uint16 `cbor:"2,keyasint,omitempty"`
	DisplayLines   uint8  `cbor:"3,keyasint,omitempty"` // cart lines that fit on one screen
	Contactless    bool   `cbor:"4,keyasint,omitempty"`
	Chip           bool   `cbor:"5,keyasint,omitempty"`
	Swipe          bool   `cbor:"6,keyasint,omitempty"`
	PINPad         bool   `cbor:"7,keyasint,omitempty"`
	OfflineCapable bool   `cbor:"8,keyasint,omitempty"`
	QR             bool   `cbor:"9,keyasint,omitempty"`
}

// Screen is what SetDisplay shows.
type Screen uint8

// Screens.
const (
	ScreenIdle     Screen = 0 // the reader's own welcome screen
	ScreenCart     Screen = 1 // Cart
	ScreenThankYou Screen = 2 // Message optional
	ScreenQR       Screen = 3 // QR
	ScreenMessage  Screen = 4 // Message
)

// Display is the SetDisplay payload.
type Display struct {
	Screen   Screen `cbor:"1,keyasint"`
	Cart     *Cart  `cbor:"2,keyasint,omitempty"`
	QR       *QR    `cbor:"3,keyasint,omitempty"`
	Message  string `cbor:"4,keyasint,omitempty"`
	Language string `cbor:"5,keyasint,omitempty"` // BCP 47, for the reader's own prompts
}

// Cart is the cashier's cart as the customer sees it. Amounts are minor
// units of Currency (ISO 4217, lower case as in the payment API).
type Cart struct {
	Currency string `cbor:"1,keyasint"`
	Lines    []Line `cbor:"2,keyasint"`
	Subtotal int64  `cbor:"3,keyasint"`
	Tax      int64  `cbor:"4,keyasint"`
	Total    int64  `cbor:"5,keyasint"`
}

// Line is one cart line: Amount is the line's total for Quantity.
type Line struct {
	Name     string `cbor:"1,keyasint"`
	Quantity int32  `cbor:"2,keyasint"`
	Amount   int64  `cbor:"3,keyasint"`
}

// QR is a code for the customer's phone (a wallet's redirect URL).
type QR struct {
	Payload   string `cbor:"1,keyasint"`
	Caption   string `cbor:"2,keyasint,omitempty"`
	ExpiresIn uint32 `cbor:"3,keyasint,omitempty"` // seconds, for a countdown; 0 = none
}

// Collect starts collecting a payment method for a PaymentIntent.
type Collect struct {
	PaymentIntent  string `cbor:"1,keyasint"`
	Amount         int64  `cbor:"2,keyasint"`
	Currency       string `cbor:"3,keyasint"`
	CustomerCancel bool   `cbor:"4,keyasint,omitempty"` // show the customer a cancel button
	OfflineAllowed bool   `cbor:"5,keyasint,omitempty"` // the reader may collect without its processor
	TimeoutMS      uint32 `cbor:"6,keyasint"`           // give up (Error collect_timeout) after this long
}

// CancelCollect stops the running collection for PaymentIntent, or, after
// Collected, releases the card the host decided not to process.
type CancelCollect struct {
	PaymentIntent string `cbor:"1,keyasint"`
}

// Heartbeat keeps an idle session alive; its reply is empty.
type Heartbeat struct{}

// EventAck acknowledges an event by its sequence number.
type EventAck struct {
	Seq uint16 `cbor:"1,keyasint"`
}

// Nak refuses a request.
type Nak struct {
	Code     ErrorCode `cbor:"1,keyasint"`
	Message  string    `cbor:"2,keyasint,omitempty"`
	Versions []uint8   `cbor:"3,keyasint,omitempty"` // with unsupported_version
}

// ReadMethod is how the card was read.
type ReadMethod uint8

// Read methods.
const (
	ReadContactless ReadMethod = 1 // tapped
	ReadChip        ReadMethod = 2 // inserted
	ReadSwipe       ReadMethod = 3 // swiped
)

func (m ReadMethod) String() string {
	switch m {
	case ReadContactless:
		return "contactless"
	case ReadChip:
		return "chip"
	case ReadSwipe:
		return "swipe"
	}
	return fmt.Sprintf("read_method_%d", uint8(m))
}

// WaitingForCard: the reader is prompting for a card.
type WaitingForCard struct {
	PaymentIntent string `cbor:"1,keyasint"`
}

// CardPresented: a card was tapped, inserted or swiped.
type CardPresented struct {
	PaymentIntent string     `cbor:"1,keyasint"`
	Method        ReadMethod `cbor:"2,keyasint"`
}

// PINEntry: the customer is entering a PIN. Digits counts what is typed
// so far (never the digits themselves); Done ends PIN entry.
type PINEntry struct {
	PaymentIntent string `cbor:"1,keyasint"`
	Digits        uint8  `cbor:"2,keyasint,omitempty"`
	Done          bool   `cbor:"3,keyasint,omitempty"`
}

// CardRemoved: an inserted card was taken out.
type CardRemoved struct {
	PaymentIntent string `cbor:"1,keyasint"`
}

// CustomerCancelled: the customer pressed cancel; the collection is over.
type CustomerCancelled struct {
	PaymentIntent string `cbor:"1,keyasint"`
}

// Collected: the reader holds a payment method for PaymentIntent. Payload
// is opaque to the host: encrypted by the reader for the payment
// processor. Brand and Last4 are for the receipt.
type Collected struct {
	PaymentIntent string     `cbor:"1,keyasint"`
	Payload       []byte     `cbor:"2,keyasint"`
	Brand         string     `cbor:"3,keyasint"`
	Last4         string     `cbor:"4,keyasint"`
	Method        ReadMethod `cbor:"5,keyasint"`
	ExpMonth      uint8      `cbor:"6,keyasint,omitempty"`
	ExpYear       uint16     `cbor:"7,keyasint,omitempty"`
	Offline       bool       `cbor:"8,keyasint,omitempty"` // collected without the processor
}

// ErrorEvent: the collection for PaymentIntent ended in error.
type ErrorEvent struct {
	PaymentIntent string    `cbor:"1,keyasint"`
	Code          ErrorCode `cbor:"2,keyasint"`
	Message       string    `cbor:"3,keyasint,omitempty"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// Deterministic (RFC 8949 §4.2.1): shortest forms, sorted keys. Nil
	// slices go out as empty arrays or byte strings, never null, so every
	// key always has the CBOR type the protocol document gives it.
	if encMode, err = (cbor.EncOptions{
		Sort:          cbor.SortCoreDeterministic,
		NilContainers: cbor.NilContainerAsEmpty,
	}).EncMode(); err != nil {
		panic(err)
	}
	// Decoding is strict about shape and bounded in size, and ignores
	// unknown keys so that a newer reader can add fields.
	if decMode, err = (cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  8,
		MaxArrayElements: 512,
		MaxMapPairs:      64,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// Marshal encodes a message payload.
func Marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// Unmarshal decodes a message payload into v, a pointer to a message
// struct. v is zeroed first, so fields absent from the payload are zero
// even when v is reused; an empty payload decodes as an empty message.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decode into %T: not a non-nil pointer", v)
	}
	rv.Elem().SetZero()
	if len(data) == 0 {
		return nil
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}
