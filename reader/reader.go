package reader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillpos/till/reader/wire"
)

// Reader is a card reader as the app uses it. Implementations are safe for
// concurrent use; the only one is *Client, over any Dialer.
type Reader interface {
	// Connect waits until a reader is connected and identified, or ctx ends.
	Connect(ctx context.Context) error
	// Info is the connected reader's identity; ErrNotConnected without one.
	Info() (Info, error)
	// State is the connection state now.
	State() State
	// SetDisplay shows d on the reader's screen.
	SetDisplay(ctx context.Context, d Display) error
	// ClearDisplay returns the reader to its idle screen.
	ClearDisplay(ctx context.Context) error
	// Collect asks the customer for a card for a PaymentIntent and waits
	// for the result: a Collected or a typed error (ErrCustomerCancelled,
	// ErrCollectTimeout, ErrCollectCanceled, ErrDisconnected, *DeviceError,
	// or ctx's error after the collection was cancelled on the reader).
	Collect(ctx context.Context, req CollectRequest) (Collected, error)
	// CancelCollect cancels the running collection for paymentIntent, or
	// releases a collected card the app will not process.
	CancelCollect(ctx context.Context, paymentIntent string) error
	// Close ends the session and stops reconnecting.
	Close() error
}

// Info, Display and the display parts are the wire protocol's.
type (
	Info         = wire.Info
	Capabilities = wire.Capabilities
	Display      = wire.Display
	Cart         = wire.Cart
	Line         = wire.Line
	QR           = wire.QR
	Screen       = wire.Screen
	ReadMethod   = wire.ReadMethod
)

// CollectRequest asks for a card for one PaymentIntent.
type CollectRequest struct {
	PaymentIntent  string
	Amount         int64 // minor units
	Currency       string
	CustomerCancel bool
	OfflineAllowed bool
	// Timeout bounds the wait for a card; zero means DefaultCollectTimeout.
	Timeout time.Duration
}

// Collected is a payment method collected for a PaymentIntent.
type Collected struct {
	PaymentIntent string
	// Payload is the reader's encrypted payment-method data, opaque to
	// Till: it is handed to the payment API and never logged.
	Payload  []byte
	Brand    string
	Last4    string
	Method   ReadMethod
	ExpMonth int
	ExpYear  int
	Offline  bool
	// At is when the reader reported it; ProcessBy is At + ProcessWindow.
	// Past ProcessBy the app must cancel and collect again (SPEC §2.1).
	At, ProcessBy time.Time
}

func (c Collected) String() string {
	return fmt.Sprintf("%s •••• %s (%s) for %s", c.Brand, c.Last4, c.Method, c.PaymentIntent)
}

// Timing rules.
const (
	// DefaultCollectTimeout is how long a reader waits for a card.
	DefaultCollectTimeout = 60 * time.Second
	// ProcessWindow is how long after collection the app has to process
	// or cancel (SPEC §2.1).
	ProcessWindow = 30 * time.Second
)

// State is the connection state.
type State int

// States.
const (
	StateDisconnected State = iota // no reader; reconnecting with backoff
	StateConnecting                // transport open, identifying
	StateReady                     // identified and idle
	StateBusy                      // collecting
	StateClosed                    // Close was called
)

func (s State) String() string {
	switch s {
	case StateDisconnected:
		return "disconnected"
	case StateConnecting:
		return "connecting"
	case StateReady:
		return "ready"
	case StateBusy:
		return "busy"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	EventState             EventKind = iota + 1 // State changed; Err says why on a disconnect
	EventWaitingForCard                         // the reader prompts for a card
	EventCardPresented                          // Method says how
	EventPINEntry                               // Digits typed so far; Done at the end
	EventCardRemoved                            // an inserted card was taken out
	EventCustomerCancelled                      // the customer cancelled on the reader
	EventCollected                              // Collected holds the result
	EventError                                  // Err holds a *DeviceError
)

func (k EventKind) String() string {
	switch k {
	case EventState:
		return "state"
	case EventWaitingForCard:
		return "waiting_for_card"
	case EventCardPresented:
		return "card_presented"
	case EventPINEntry:
		return "pin_entry"
	case EventCardRemoved:
		return "card_removed"
	case EventCustomerCancelled:
		return "customer_cancelled"
	case EventCollected:
		return "collected"
	case EventError:
		return "error"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is reported to Options.OnEvent, one at a time, in order.
type Event struct {
	Kind          EventKind
	At            time.Time
	State         State // with EventState
	PaymentIntent string
	Method        ReadMethod // with EventCardPresented
	Digits        int        // with EventPINEntry
	Done          bool       // with EventPINEntry
	Collected     *Collected // with EventCollected
	Err           error      // with EventError, and EventState on a disconnect
}

// Errors a caller branches on (with errors.Is).
var (
	// ErrNotConnected: no reader is connected right now.
	ErrNotConnected = errors.New("card reader not connected")
	// ErrDisconnected: the reader went away during the call (unplugged,
	// cable fault, stopped answering heartbeats).
	ErrDisconnected = errors.New("card reader disconnected")
	// ErrNoResponse: the reader did not answer a request in time.
	ErrNoResponse = errors.New("card reader did not answer")
	// ErrCustomerCancelled: the customer pressed cancel on the reader.
	ErrCustomerCancelled = errors.New("customer cancelled on the card reader")
	// ErrCollectTimeout: no card was presented within the timeout.
	ErrCollectTimeout = errors.New("no card presented in time")
	// ErrCollectCanceled: the app cancelled the collection.
	ErrCollectCanceled = errors.New("card collection cancelled")
	// ErrBusy: a collection is already running on this reader.
	ErrBusy = errors.New("card reader is busy with another payment")
	// ErrProcessWindow: a collected card was neither processed nor
	// released within ProcessWindow; the Client released it on the reader.
	ErrProcessWindow = errors.New("the window to process the collected card has passed")
	// ErrClosed: the Reader was closed.
	ErrClosed = errors.New("card reader closed")
	// ErrNoReader: no reader was found to connect to (see NoReaderError).
	ErrNoReader = errors.New("no card reader found")
	// ErrUSBUnavailable: libusb could not be initialised on this machine.
	ErrUSBUnavailable = errors.New("USB access (libusb) unavailable")
)

// DeviceError is an error the reader reported: a Nak or an Error event.
type DeviceError struct {
	Op      string // the request or "collect"
	Code    wire.ErrorCode
	Message string
}

func (e *DeviceError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("card reader %s: %s", e.Op, e.Code)
	}
	return fmt.Sprintf("card reader %s: %s: %s", e.Op, e.Code, e.Message)
}

// Transport carries frames' bytes to and from one connected reader: a USB
// bulk endpoint pair, a TCP connection, or an in-memory pipe. Reads return
// whatever bytes arrived (a frame may span reads, a read may hold several
// frames). A read or write after the reader went away returns an error
// wrapping ErrDisconnected; both honour ctx.
type Transport interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
	WriteContext(ctx context.Context, p []byte) (int, error)
	Close() error
}

// Dialer opens a Transport to a reader, or fails (ErrNoReader when none is
// there). The Client calls it again, with backoff, after every disconnect.
type Dialer interface {
	Dial(ctx context.Context) (Transport, error)
	// String names what is dialled, for messages: "USB 2fe3:0001", …
	String() string
}

// Is makes a DeviceError match the sentinel its code means: busy is
// ErrBusy, collect_timeout is ErrCollectTimeout.
func (e *DeviceError) Is(target error) bool {
	switch e.Code {
	case wire.CodeBusy:
		return target == ErrBusy
	case wire.CodeCollectTimeout:
		return target == ErrCollectTimeout
	}
	return false
}
