package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/reader/wire"
)

// Defaults and protocol timings.
const (
	DefaultModel           = "Till Sim R1"
	DefaultSerial          = "SIM-0001"
	DefaultFirmware        = "1.0.0"
	DefaultRetransmitEvery = 500 * time.Millisecond
	DefaultRetransmitMax   = 10
	DefaultPINDigitEvery   = 300 * time.Millisecond
	// PartialFrameTimeout is how long an incomplete frame may wait for its
	// next bytes before the decoder gives up on it (Decoder.Resync).
	PartialFrameTimeout = 250 * time.Millisecond
	// PINDigits is how many digits a simulated customer types.
	PINDigits = 4
)

// DefaultCapabilities is what the simulator reports unless told otherwise.
var DefaultCapabilities = wire.Capabilities{
	DisplayWidth: 320, DisplayHeight: 480, DisplayLines: 8,
	Contactless: true, Chip: true, Swipe: true, PINPad: true, QR: true, OfflineCapable: true,
}

// Errors the controls and Serve return.
var (
	// ErrUnplugged: the simulator is unplugged. It wraps
	// reader.ErrNoReader, as a host that finds no reader expects.
	ErrUnplugged error = unpluggedError{}
	// ErrInUse: a host is already connected; the device serves one at a time.
	ErrInUse = errors.New("simulated reader already serves a host")
	// ErrNoCollection: the control needs a collection in another phase
	// (a card can only be presented while the reader waits for one).
	ErrNoCollection = errors.New("no collection is waiting for that")
	// ErrNotAllowed: the running Collect did not allow customer cancel.
	ErrNotAllowed = errors.New("the host did not allow the customer to cancel")
	// ErrNotCapable: the Capabilities lack what the control needs.
	ErrNotCapable = errors.New("the simulated reader cannot do that")
	// ErrUnknownCard: not one of TestCards.
	ErrUnknownCard = errors.New("unknown test card")
)

type unpluggedError struct{}

func (unpluggedError) Error() string { return "no reader found (simulator unplugged)" }
func (unpluggedError) Unwrap() error { return reader.ErrNoReader }

// Options configure a Device. The zero value is a usable simulator.
type Options struct {
	// Model, Serial and Firmware go into Info; defaults DefaultModel, …
	Model, Serial, Firmware string
	// Capabilities default to DefaultCapabilities when zero.
	Capabilities wire.Capabilities
	// Now is the device's clock (default time.Now).
	Now func() time.Time
	// Auto, when set, presents a card by itself after each Collect.
	Auto *Auto
	// Latency delays every reply (a slow reader); see SetLatency.
	Latency time.Duration
	// RetransmitEvery and RetransmitMax: an unacknowledged event is sent
	// again every RetransmitEvery, at most RetransmitMax times
	// (defaults DefaultRetransmitEvery, DefaultRetransmitMax).
	RetransmitEvery time.Duration
	RetransmitMax   int
	// PINDigitEvery paces the simulated customer's PIN digits
	// (default DefaultPINDigitEvery).
	PINDigitEvery time.Duration
	// OnChange is called after every change a person would see (screen,
	// prompt, phase, connection, plug, latency, mute; the frame counters
	// alone do not count), with the Snapshot after it.
	// Calls are serialised, never made with the device's lock held, and
	// come from whichever goroutine made the change: hand the work to
	// your UI thread and return.
	OnChange func(Snapshot)
	// Logger gets protocol diagnostics (default: discarded). Card payloads
	// are never logged.
	Logger *slog.Logger
}

// Auto presents a card After each Collect. Card "" lets the amount decide
// (the sandbox's test amounts); Method zero means contactless.
type Auto struct {
	After  time.Duration
	Card   string
	Method wire.ReadMethod
}

// Phase is where the running collection is.
type Phase int

// Phases.
const (
	PhaseIdle       Phase = iota // no collection
	PhaseWaiting                 // prompting for a card
	PhasePIN                     // a card is in; the customer types a PIN
	PhaseProcessing              // collected; the host processes or releases it
)

func (p Phase) String() string {
	switch p {
	case PhaseIdle:
		return "idle"
	case PhaseWaiting:
		return "waiting"
	case PhasePIN:
		return "pin"
	case PhaseProcessing:
		return "processing"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Prompts the device shows over its screen.
const (
	PromptPresentCard = "Present card"
	PromptEnterPIN    = "Enter PIN"
	PromptProcessing  = "Processing…"
	PromptCancelled   = "Cancelled"
	PromptTimedOut    = "Timed out"
	PromptReadFailed  = "Card read failed"
	// PromptOfflineRefused: an offline collection was asked of a reader
	// that is not OfflineCapable.
	PromptOfflineRefused = "Offline payments not supported"
)

// Snapshot is what the device shows and how it is connected.
type Snapshot struct {
	Model     string
	Connected bool   // a host transport is attached
	Host      string // what the host called itself in Identify ("" before)
	Unplugged bool
	// Display is the last SetDisplay (idle after ClearDisplay or a
	// reconnect); DisplayAt is when it arrived, for a QR countdown.
	Display   wire.Display
	DisplayAt time.Time
	// Collecting is the running Collect (nil when Phase is idle).
	Collecting *wire.Collect
	Phase      Phase
	Prompt     string
	// LastCollected is the last card collected, without its payload.
	LastCollected *wire.Collected
	Latency       time.Duration
	Muted         bool
	// Frame counters, for the curious: decoded in, written out (with
	// retransmissions), garbled in (bytes skipped), dropped (muted or
	// not a request).
	FramesIn, FramesOut, GarbledIn, Dropped uint64
}

// collection is the running Collect.
type collection struct {
	req    wire.Collect
	gen    uint64
	phase  Phase
	card   testCard
	method wire.ReadMethod
	digits int
	timers []*time.Timer
}

func (c *collection) stopTimers() {
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
}

// Device is one simulated reader. Its methods are safe for concurrent use.
type Device struct {
	opts Options
	log  *slog.Logger

	notifyMu sync.Mutex     // serialises OnChange calls
	dialed   sync.WaitGroup // the connections the Dialer serves

	mu        sync.Mutex
	dirty     bool
	changed   chan struct{}
	unplugged bool
	latency   time.Duration
	muted     bool
	garble    int
	sess      *session
	host      string
	display   wire.Display
	displayAt time.Time
	coll      *collection
	gen       uint64
	prompt    string
	last      *wire.Collected
	eventSeq  uint16
	framesIn  uint64
	framesOut uint64
	garbledIn uint64
	dropped   uint64
}

// New returns a simulated reader, unplugged from nothing: ready to Serve.
func New(opts Options) *Device {
	if opts.Model == "" {
		opts.Model = DefaultModel
	}
	if opts.Serial == "" {
		opts.Serial = DefaultSerial
	}
	if opts.Firmware == "" {
		opts.Firmware = DefaultFirmware
	}
	if opts.Capabilities == (wire.Capabilities{}) {
		opts.Capabilities = DefaultCapabilities
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetransmitEvery <= 0 {
		opts.RetransmitEvery = DefaultRetransmitEvery
	}
	if opts.RetransmitMax <= 0 {
		opts.RetransmitMax = DefaultRetransmitMax
	}
	if opts.PINDigitEvery <= 0 {
		opts.PINDigitEvery = DefaultPINDigitEvery
	}
	if opts.Auto != nil {
		a := *opts.Auto
		if a.Method == 0 {
			a.Method = wire.ReadContactless
		}
		opts.Auto = &a
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{opts: opts, log: log, latency: opts.Latency, changed: make(chan struct{})}
}

// Info is what the device answers to Identify.
func (d *Device) Info() wire.Info {
	return wire.Info{Version: wire.Version1, Model: d.opts.Model, Serial: d.opts.Serial,
		Firmware: d.opts.Firmware, Capabilities: d.opts.Capabilities}
}

// do runs f under the lock, then reports a change if f made one.
func (d *Device) do(f func() error) error {
	d.mu.Lock()
	err := f()
	dirty := d.dirty
	if dirty {
		d.dirty = false
		close(d.changed)
		d.changed = make(chan struct{})
	}
	d.mu.Unlock()
	if dirty && d.opts.OnChange != nil {
		d.notifyMu.Lock()
		defer d.notifyMu.Unlock()
		d.opts.OnChange(d.Snapshot())
	}
	return err
}

// Changed returns a channel closed at the next visible change. Take it
// before reading the Snapshot it should be compared with.
func (d *Device) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// Snapshot returns a copy of the device's visible state.
func (d *Device) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Snapshot{
		Model: d.opts.Model, Connected: d.sess != nil, Host: d.host, Unplugged: d.unplugged,
		Display: copyDisplay(d.display), DisplayAt: d.displayAt, Prompt: d.prompt,
		Latency: d.latency, Muted: d.muted,
		FramesIn: d.framesIn, FramesOut: d.framesOut, GarbledIn: d.garbledIn, Dropped: d.dropped,
	}
	if d.coll != nil {
		req := d.coll.req
		s.Collecting, s.Phase = &req, d.coll.phase
	}
	if d.last != nil {
		c := *d.last
		s.LastCollected = &c
	}
	return s
}

func copyDisplay(d wire.Display) wire.Display {
	if d.Cart != nil {
		c := *d.Cart
		c.Lines = append([]wire.Line(nil), c.Lines...)
		d.Cart = &c
	}
	if d.QR != nil {
		q := *d.QR
		d.QR = &q
	}
	return d
}

// Tap presents card contactless.
func (d *Device) Tap(card string) error {
	return d.present("tap", card, wire.ReadContactless, false)
}

// Insert presents card in the chip slot; with pin, the customer types a
// PIN first (PINEntry events), then the card is collected.
func (d *Device) Insert(card string, pin bool) error {
	return d.present("insert", card, wire.ReadChip, pin)
}

// Swipe presents card's magnetic stripe.
func (d *Device) Swipe(card string) error {
	return d.present("swipe", card, wire.ReadSwipe, false)
}

func (d *Device) present(op, name string, m wire.ReadMethod, pin bool) error {
	card, ok := lookupCard(name)
	if !ok {
		return fmt.Errorf("%s card %q: %w", op, name, ErrUnknownCard)
	}
	caps := d.opts.Capabilities
	if (m == wire.ReadContactless && !caps.Contactless) || (m == wire.ReadChip && !caps.Chip) ||
		(m == wire.ReadSwipe && !caps.Swipe) || (pin && !caps.PINPad) {
		return fmt.Errorf("%s card: %w", op, ErrNotCapable)
	}
	return d.do(func() error {
		c := d.coll
		if c == nil || c.phase != PhaseWaiting {
			return fmt.Errorf("%s card: %w", op, ErrNoCollection)
		}
		d.cardPresented(c, card, m, pin)
		return nil
	})
}

// CustomerCancel presses the customer's cancel button. It works only while
// waiting for a card or a PIN, and only if the Collect allowed it.
func (d *Device) CustomerCancel() error {
	return d.do(func() error {
		c := d.coll
		if c == nil || (c.phase != PhaseWaiting && c.phase != PhasePIN) {
			return fmt.Errorf("customer cancel: %w", ErrNoCollection)
		}
		if !c.req.CustomerCancel {
			return fmt.Errorf("customer cancel for %s: %w", c.req.PaymentIntent, ErrNotAllowed)
		}
		d.emit(wire.TypeCustomerCancelled, wire.CustomerCancelled{PaymentIntent: c.req.PaymentIntent})
		d.finish(PromptCancelled)
		return nil
	})
}

// FailRead makes the card the customer presents unreadable: the collection
// ends with Error card_read_failed.
func (d *Device) FailRead() error {
	return d.do(func() error {
		c := d.coll
		if c == nil || c.phase != PhaseWaiting {
			return fmt.Errorf("fail card read: %w", ErrNoCollection)
		}
		d.emit(wire.TypeError, wire.ErrorEvent{PaymentIntent: c.req.PaymentIntent, Code: wire.CodeCardReadFailed,
			Message: "the card could not be read"})
		d.finish(PromptReadFailed)
		return nil
	})
}

// Unplug pulls the cable: the current connection ends (the host sees
// ErrDisconnected) and nothing can connect until Replug. It does not wait
// for the connection's goroutines; watch Snapshot().Connected.
func (d *Device) Unplug() {
	var s *session
	_ = d.do(func() error {
		if !d.unplugged {
			d.unplugged, d.dirty = true, true
		}
		// The cable is out: the collection ends now, not when the session
		// notices, so a card presented after Unplug returns never lands on
		// it.
		if d.coll != nil {
			d.coll.stopTimers()
			d.coll, d.prompt = nil, ""
		}
		s = d.sess
		return nil
	})
	if s != nil {
		_ = s.t.Close()
	}
}

// Replug plugs the cable back in.
func (d *Device) Replug() {
	_ = d.do(func() error {
		if d.unplugged {
			d.unplugged, d.dirty = false, true
		}
		return nil
	})
}

// GarbleNext corrupts the next n outgoing frames (replies, events or
// retransmissions) by flipping a bit of their CRC, so that the host's
// decoder throws them away.
func (d *Device) GarbleNext(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.garble = max(n, 0)
}

// SetLatency delays every later reply by l.
func (d *Device) SetLatency(l time.Duration) {
	_ = d.do(func() error {
		d.latency, d.dirty = max(l, 0), true
		return nil
	})
}

// SetMute makes the device ignore every request and send nothing (a hung
// reader), or, with false, brings it back. Timers keep running while muted.
func (d *Device) SetMute(m bool) {
	_ = d.do(func() error {
		d.muted, d.dirty = m, true
		return nil
	})
}

// The collection's life. All of these run with d.mu held.

func (d *Device) startCollect(req wire.Collect) {
	if d.coll != nil { // a collected card the host moved on from
		d.release()
	}
	d.gen++
	c := &collection{req: req, gen: d.gen, phase: PhaseWaiting}
	d.coll, d.prompt, d.dirty = c, PromptPresentCard, true
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout == 0 {
		timeout = reader.DefaultCollectTimeout
	}
	gen := c.gen
	c.timers = append(c.timers, time.AfterFunc(timeout, func() { d.onTimeout(gen) }))
	d.emit(wire.TypeWaitingForCard, wire.WaitingForCard{PaymentIntent: req.PaymentIntent})
	if a := d.opts.Auto; a != nil {
		c.timers = append(c.timers, time.AfterFunc(a.After, func() { d.onAuto(gen) }))
	}
}

// refuseOffline ends a Collect that asked for an offline collection on a
// reader that is not OfflineCapable: Error offline_not_allowed, no prompt
// for a card.
func (d *Device) refuseOffline(req wire.Collect) {
	if d.coll != nil { // a collected card the host moved on from
		d.release()
	}
	d.emit(wire.TypeError, wire.ErrorEvent{PaymentIntent: req.PaymentIntent, Code: wire.CodeOfflineNotAllowed,
		Message: "this reader cannot collect offline"})
	d.finish(PromptOfflineRefused)
}

func (d *Device) current(gen uint64, phase Phase) *collection {
	if c := d.coll; c != nil && c.gen == gen && c.phase == phase {
		return c
	}
	return nil
}

func (d *Device) onTimeout(gen uint64) {
	_ = d.do(func() error {
		c := d.current(gen, PhaseWaiting)
		if c == nil {
			return nil
		}
		d.emit(wire.TypeError, wire.ErrorEvent{PaymentIntent: c.req.PaymentIntent, Code: wire.CodeCollectTimeout,
			Message: "no card presented in time"})
		d.finish(PromptTimedOut)
		return nil
	})
}

func (d *Device) onAuto(gen uint64) {
	a := d.opts.Auto
	card, ok := lookupCard(a.Card)
	if !ok {
		d.log.Warn("simulated reader: unknown auto card", "card", a.Card)
		return
	}
	_ = d.do(func() error {
		if c := d.current(gen, PhaseWaiting); c != nil {
			d.cardPresented(c, card, a.Method, false)
		}
		return nil
	})
}

func (d *Device) cardPresented(c *collection, card testCard, m wire.ReadMethod, pin bool) {
	c.stopTimers()
	c.card, c.method, d.dirty = card, m, true
	d.emit(wire.TypeCardPresented, wire.CardPresented{PaymentIntent: c.req.PaymentIntent, Method: m})
	if !pin {
		d.collected(c)
		return
	}
	c.phase, d.prompt = PhasePIN, PromptEnterPIN
	d.schedulePIN(c)
}

func (d *Device) schedulePIN(c *collection) {
	gen := c.gen
	c.timers = append(c.timers[:0], time.AfterFunc(d.opts.PINDigitEvery, func() { d.onPINDigit(gen) }))
}

func (d *Device) onPINDigit(gen uint64) {
	_ = d.do(func() error {
		c := d.current(gen, PhasePIN)
		if c == nil {
			return nil
		}
		if c.digits < PINDigits {
			c.digits++
			d.emit(wire.TypePINEntry, wire.PINEntry{PaymentIntent: c.req.PaymentIntent, Digits: uint8(c.digits)})
			d.schedulePIN(c)
			return nil
		}
		d.emit(wire.TypePINEntry, wire.PINEntry{PaymentIntent: c.req.PaymentIntent, Digits: uint8(c.digits), Done: true})
		d.collected(c)
		return nil
	})
}

func (d *Device) collected(c *collection) {
	now := d.opts.Now()
	// For an offline collection (deferred authorisation) PaymentIntent is
	// the host's offline reference; either way the payload is bound to it.
	pi := c.req.PaymentIntent
	offline := c.req.OfflineAllowed
	card := simcard.Card{
		TestCard: c.card.name, Brand: c.card.brand, Last4: c.card.last4,
		ExpMonth: 12, ExpYear: now.Year() + 3, ReadMethod: readMethodName(c.method),
		Offline: offline, Amount: c.req.Amount, Currency: lowerASCII(c.req.Currency),
		CollectedAt: now.Unix(),
	}
	ev := wire.Collected{
		PaymentIntent: pi, Payload: simcard.Seal(pi, card), Brand: card.Brand, Last4: card.Last4,
		Method: c.method, ExpMonth: uint8(card.ExpMonth), ExpYear: uint16(card.ExpYear), Offline: offline,
	}
	d.emit(wire.TypeCollected, ev)
	c.stopTimers()
	ev.Payload = nil
	c.phase, d.prompt, d.last, d.dirty = PhaseProcessing, PromptProcessing, &ev, true
}

// finish ends the collection with a prompt saying how.
func (d *Device) finish(prompt string) {
	if d.coll != nil {
		d.coll.stopTimers()
	}
	d.coll, d.prompt, d.dirty = nil, prompt, true
}

// release lets go of a collected card the host processed or gave up on.
func (d *Device) release() {
	c := d.coll
	if c.phase == PhaseProcessing && c.method == wire.ReadChip {
		d.emit(wire.TypeCardRemoved, wire.CardRemoved{PaymentIntent: c.req.PaymentIntent})
	}
	d.finish("")
}

// lowerASCII lower-cases an ISO 4217 code as the payment API spells it.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}
