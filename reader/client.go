package reader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillpos/till/reader/wire"
)

// Options configures a Client. Only Dialer is required; every duration has
// the protocol's default when zero.
type Options struct {
	// Dialer opens the transport to the reader, again after each disconnect.
	Dialer Dialer
	// Host is sent in Identify, e.g. "Till 1.0 lane_1".
	Host string
	// Now stamps Event.At and Collected.At/ProcessBy; default time.Now.
	Now func() time.Time
	// OnEvent receives every Event from one goroutine, in order. It must
	// return quickly and must not call Close.
	OnEvent func(Event)
	// Logger gets connection and protocol diagnostics; default discards.
	// A collected card's payload is never logged.
	Logger *slog.Logger
	// RequestTimeout bounds the wait for each reply; default 2s.
	RequestTimeout time.Duration
	// HeartbeatEvery: a Heartbeat is sent when nothing was sent for this
	// long; default 2s.
	HeartbeatEvery time.Duration
	// MissedHeartbeats is how many requests in a row may go unanswered
	// before the reader is considered gone; default 3.
	MissedHeartbeats int
	// ResyncAfter is how long a partial frame may stay incomplete before
	// the decoder gives up on it; default 250ms.
	ResyncAfter time.Duration
	// Backoff is the wait before dial attempt n (1, 2, …) after a failure;
	// default 250ms doubling to 10s, ±20% jitter.
	Backoff func(attempt int) time.Duration
	// CollectGrace is added to a collection's timeout before the Client
	// gives up on a reader that never ends it; default 5s.
	CollectGrace time.Duration
}

// Defaults for Options.
const (
	DefaultRequestTimeout   = 2 * time.Second
	DefaultHeartbeatEvery   = 2 * time.Second
	DefaultMissedHeartbeats = 3
	DefaultResyncAfter      = 250 * time.Millisecond
	DefaultCollectGrace     = 5 * time.Second
)

// DefaultBackoff waits 250ms before the first retry, doubling up to 10s,
// each wait jittered by ±20% so that many tills do not retry in step.
func DefaultBackoff(attempt int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < attempt && d < 10*time.Second; i++ {
		d *= 2
	}
	d = min(d, 10*time.Second)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if o.MissedHeartbeats <= 0 {
		o.MissedHeartbeats = DefaultMissedHeartbeats
	}
	if o.ResyncAfter <= 0 {
		o.ResyncAfter = DefaultResyncAfter
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.CollectGrace <= 0 {
		o.CollectGrace = DefaultCollectGrace
	}
}

// Stats counts what a Client saw on the wire since New. Nonzero damage
// counters are normal on a noisy cable; growing ones point at a fault.
type Stats struct {
	Reconnects    uint64 // sessions identified after the first one
	GarbledFrames uint64 // runs of damaged bytes the decoder skipped
	GarbledBytes  uint64 // bytes in those runs
	Resyncs       uint64 // partial frames given up after ResyncAfter
	Duplicates    uint64 // retransmitted events seen again (re-acked, not delivered)
	LateReplies   uint64 // replies for an unknown or expired sequence number
	BadFrames     uint64 // whole frames that made no sense: bad payload, wrong type or version
	Timeouts      uint64 // requests the reader did not answer in time
	DroppedEvents uint64 // events not delivered because OnEvent fell behind
}

type stats struct {
	reconnects, garbledFrames, garbledBytes, resyncs, duplicates,
	lateReplies, badFrames, timeouts, droppedEvents atomic.Uint64
}

// maxQueuedEvents bounds the events waiting for a slow OnEvent.
const maxQueuedEvents = 1024

// Client is a Reader over a Dialer: it keeps one session with the reader
// open, re-dialling with backoff after every disconnect, until Close.
type Client struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	loopWG sync.WaitGroup // the connection loop and the release worker
	stats  stats

	mu       sync.Mutex
	state    State
	changed  chan struct{} // closed and replaced at every state change
	lastErr  error         // why the last connection attempt or session ended
	info     Info
	sess     *session // the identified session, nil when none
	coll     *collection
	held     map[string]*time.Timer // collected cards inside ProcessWindow
	expired  []string               // held cards whose window passed, for the worker
	wakeWork chan struct{}
	closed   bool

	evMu     sync.Mutex
	evQ      []Event
	evWake   chan struct{}
	evClosed bool
	evDone   chan struct{}
}

var _ Reader = (*Client)(nil)

// New starts connecting to the reader opts.Dialer reaches and returns at
// once; use Connect to wait for it. Close stops everything New started.
func New(opts Options) *Client {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts:     opts,
		log:      opts.Logger.With("reader", dialerName(opts.Dialer)),
		ctx:      ctx,
		cancel:   cancel,
		state:    StateDisconnected,
		changed:  make(chan struct{}),
		held:     make(map[string]*time.Timer),
		wakeWork: make(chan struct{}, 1),
		evWake:   make(chan struct{}, 1),
		evDone:   make(chan struct{}),
	}
	go c.dispatch()
	c.loopWG.Add(2)
	go c.connectLoop()
	go c.releaseWorker()
	return c
}

func dialerName(d Dialer) string {
	if d == nil {
		return "no dialer"
	}
	return d.String()
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		Reconnects: s.reconnects.Load(), GarbledFrames: s.garbledFrames.Load(),
		GarbledBytes: s.garbledBytes.Load(), Resyncs: s.resyncs.Load(),
		Duplicates: s.duplicates.Load(), LateReplies: s.lateReplies.Load(),
		BadFrames: s.badFrames.Load(), Timeouts: s.timeouts.Load(),
		DroppedEvents: s.droppedEvents.Load(),
	}
}

// State is the connection state now.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Info is the connected reader's identity.
func (c *Client) Info() (Info, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case StateReady, StateBusy:
		return c.info, nil
	case StateClosed:
		return Info{}, fmt.Errorf("card reader info: %w", ErrClosed)
	}
	return Info{}, fmt.Errorf("card reader info: %w", ErrNotConnected)
}

// Connect waits until the reader is identified (StateReady or StateBusy).
func (c *Client) Connect(ctx context.Context) error {
	for {
		c.mu.Lock()
		st, changed := c.state, c.changed
		c.mu.Unlock()
		switch st {
		case StateReady, StateBusy:
			return nil
		case StateClosed:
			return fmt.Errorf("connect card reader: %w", ErrClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			c.mu.Lock()
			last := c.lastErr
			c.mu.Unlock()
			if last != nil {
				return fmt.Errorf("connect card reader %s: %w (last error: %v)", dialerName(c.opts.Dialer), ctx.Err(), last)
			}
			return fmt.Errorf("connect card reader %s: %w", dialerName(c.opts.Dialer), ctx.Err())
		}
	}
}

// setStateLocked changes the state and reports it; c.mu is held. A
// disconnect is reported again when its cause differs from the last one.
func (c *Client) setStateLocked(st State, cause error) {
	if st == StateDisconnected {
		if c.state == st && sameError(cause, c.lastErr) {
			return
		}
		c.lastErr = cause
	} else if c.state == st {
		return
	}
	if c.state != st {
		c.state = st
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.emit(Event{Kind: EventState, State: st, Err: cause})
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// emit queues ev for OnEvent, stamping it with the clock.
func (c *Client) emit(ev Event) {
	if c.opts.OnEvent == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = c.opts.Now()
	}
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.evClosed {
		return
	}
	if len(c.evQ) >= maxQueuedEvents && ev.Kind != EventState {
		c.stats.droppedEvents.Add(1)
		return
	}
	c.evQ = append(c.evQ, ev)
	select {
	case c.evWake <- struct{}{}:
	default:
	}
}

// dispatch calls OnEvent for each queued event, in order, until Close has
// queued the last one.
func (c *Client) dispatch() {
	defer close(c.evDone)
	var batch []Event
	for {
		c.evMu.Lock()
		for len(c.evQ) == 0 && !c.evClosed {
			c.evMu.Unlock()
			<-c.evWake
			c.evMu.Lock()
		}
		if len(c.evQ) == 0 {
			c.evMu.Unlock()
			return
		}
		batch, c.evQ = c.evQ, batch[:0]
		c.evMu.Unlock()
		for i := range batch {
			c.opts.OnEvent(batch[i])
			batch[i] = Event{}
		}
	}
}

// connectLoop dials, identifies and serves one session at a time until Close.
func (c *Client) connectLoop() {
	defer c.loopWG.Done()
	attempt, identified := 0, false
	for c.ctx.Err() == nil {
		var cause error
		if c.opts.Dialer == nil {
			cause = errors.New("card reader: no dialer configured")
		} else if t, err := c.opts.Dialer.Dial(c.ctx); err != nil {
			cause = fmt.Errorf("dial: %w", err) // dialers name what they dialled
		} else {
			var ok bool
			ok, cause = c.serve(t, identified)
			if ok {
				identified, attempt = true, 0
			}
		}
		if c.ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if sameError(cause, c.lastErr) {
			c.log.Debug("card reader still unavailable", "err", cause)
		} else {
			c.log.Warn("card reader unavailable", "err", cause)
		}
		c.setStateLocked(StateDisconnected, cause)
		c.mu.Unlock()
		attempt++
		wait := time.NewTimer(c.opts.Backoff(attempt))
		select {
		case <-wait.C:
		case <-c.ctx.Done():
			wait.Stop()
			return
		}
	}
}

// serve runs one session on t until it ends; ok says whether it got as far
// as identifying the reader.
func (c *Client) serve(t Transport, reconnect bool) (ok bool, cause error) {
	c.mu.Lock()
	c.setStateLocked(StateConnecting, nil)
	c.mu.Unlock()
	s := newSession(c, t)
	s.start()
	info, err := s.identify()
	if err != nil {
		s.fail(err)
		s.wait()
		return false, fmt.Errorf("identify reader on %s: %w", c.opts.Dialer, err)
	}
	c.log.Info("card reader connected", "model", info.Model, "serial", info.Serial, "firmware", info.Firmware)
	if reconnect {
		c.stats.reconnects.Add(1)
	}
	c.mu.Lock()
	c.info, c.sess = info, s
	c.setStateLocked(StateReady, nil)
	c.mu.Unlock()
	s.startHeartbeat()

	select {
	case <-s.dead:
	case <-c.ctx.Done():
		s.fail(ErrClosed)
	}
	c.mu.Lock()
	c.sess = nil
	if c.ctx.Err() == nil {
		// Disconnected before the running Collect returns, so that it
		// does not report the reader ready again.
		c.log.Warn("card reader disconnected", "err", s.cause())
		c.setStateLocked(StateDisconnected, s.cause())
	}
	if c.coll != nil && c.coll.sess == s {
		c.coll.finish(collectResult{err: s.deadErr("collect for " + c.coll.pi)})
	}
	c.mu.Unlock()
	s.wait()
	return true, s.cause()
}

// sessionFailed marks the reader disconnected the moment its session
// dies, before serve notices: a call that failed on the dead session must
// not find the Client still ready and start again on that session.
func (c *Client) sessionFailed(s *session, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != s || c.ctx.Err() != nil {
		return
	}
	c.sess = nil
	c.setStateLocked(StateDisconnected, cause)
}

// session returns the identified session, or an error naming op.
func (c *Client) session(op string) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("card reader %s: %w", op, ErrClosed)
	}
	if c.sess == nil {
		return nil, fmt.Errorf("card reader %s: %w", op, ErrNotConnected)
	}
	return c.sess, nil
}

// SetDisplay shows d on the reader's screen. It also tells the reader the
// app is done with any collected card.
func (c *Client) SetDisplay(ctx context.Context, d Display) error {
	s, err := c.session("SetDisplay")
	if err != nil {
		return err
	}
	if err := s.roundTrip(ctx, wire.TypeSetDisplay, &d, nil); err != nil {
		return err
	}
	c.releaseHeld("")
	return nil
}

// ClearDisplay returns the reader to its idle screen. It also tells the
// reader the app is done with any collected card.
func (c *Client) ClearDisplay(ctx context.Context) error {
	s, err := c.session("ClearDisplay")
	if err != nil {
		return err
	}
	if err := s.roundTrip(ctx, wire.TypeClearDisplay, nil, nil); err != nil {
		return err
	}
	c.releaseHeld("")
	return nil
}

// releaseHeld stops the ProcessWindow timer of paymentIntent's collected
// card, or of every held card when paymentIntent is "".
func (c *Client) releaseHeld(paymentIntent string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pi, t := range c.held {
		if paymentIntent == "" || pi == paymentIntent {
			t.Stop()
			delete(c.held, pi)
		}
	}
}

// holdLocked starts the ProcessWindow timer for a collected card; c.mu is held.
func (c *Client) holdLocked(pi string) {
	if old := c.held[pi]; old != nil {
		old.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(ProcessWindow, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.held[pi] != t || c.closed {
			return
		}
		delete(c.held, pi)
		c.expired = append(c.expired, pi)
		select {
		case c.wakeWork <- struct{}{}:
		default:
		}
	})
	c.held[pi] = t
}

// releaseWorker releases, on the reader, collected cards whose
// ProcessWindow passed, and reports each as an EventError.
func (c *Client) releaseWorker() {
	defer c.loopWG.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.wakeWork:
		}
		c.mu.Lock()
		pis := c.expired
		c.expired = nil
		c.mu.Unlock()
		for _, pi := range pis {
			err := fmt.Errorf("card reader: card collected for %s neither processed nor released within %v: %w", pi, ProcessWindow, ErrProcessWindow)
			if cerr := c.sendCancel(c.ctx, pi); cerr != nil {
				err = fmt.Errorf("%w (releasing it on the reader: %v)", err, cerr)
			}
			c.log.Warn("collected card released", "payment_intent", pi, "err", err)
			c.mu.Lock()
			c.emit(Event{Kind: EventError, PaymentIntent: pi, Err: err})
			c.mu.Unlock()
		}
	}
}

// sendCancel sends CancelCollect for pi with its own timeout.
func (c *Client) sendCancel(ctx context.Context, pi string) error {
	s, err := c.session("CancelCollect")
	if err != nil {
		return err
	}
	s.noteCancelled(pi)
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	return s.roundTrip(ctx, wire.TypeCancelCollect, &wire.CancelCollect{PaymentIntent: pi}, nil)
}

// CancelCollect cancels the running collection for paymentIntent (its
// Collect returns ErrCollectCanceled), or releases a card collected for it
// that the app will not process.
func (c *Client) CancelCollect(ctx context.Context, paymentIntent string) error {
	if paymentIntent == "" {
		return errors.New("card reader CancelCollect: no PaymentIntent given")
	}
	c.releaseHeld(paymentIntent)
	c.mu.Lock()
	coll := c.coll
	if coll != nil && coll.pi == paymentIntent {
		coll.cancelRequested = true
	} else {
		coll = nil
	}
	c.mu.Unlock()
	if err := c.sendCancel(ctx, paymentIntent); err != nil {
		return err
	}
	if coll != nil {
		c.mu.Lock()
		coll.finish(collectResult{err: fmt.Errorf("card reader collect for %s: %w", paymentIntent, ErrCollectCanceled)})
		c.mu.Unlock()
	}
	return nil
}

// collection is the one running Collect.
type collection struct {
	pi              string
	sess            *session
	result          chan collectResult // buffered 1; the first finish wins
	ended           bool
	cancelRequested bool // CancelCollect was sent: a Collected is released, not returned
}

type collectResult struct {
	collected Collected
	err       error
	release   bool // send CancelCollect: the reader may hold a card nobody will process
}

// finish ends the collection with r unless it already ended; c.mu is held.
func (k *collection) finish(r collectResult) {
	if k.ended {
		return
	}
	k.ended = true
	k.result <- r
}

func validCollect(req CollectRequest) error {
	switch {
	case req.PaymentIntent == "":
		return errors.New("no PaymentIntent")
	case len(req.PaymentIntent) > 255:
		return fmt.Errorf("PaymentIntent id of %d bytes is too long", len(req.PaymentIntent))
	case req.Amount <= 0:
		return fmt.Errorf("amount %d is not positive", req.Amount)
	case len(req.Currency) != 3:
		return fmt.Errorf("currency %q is not a 3-letter ISO 4217 code", req.Currency)
	case req.Timeout < 0 || req.Timeout > time.Duration(^uint32(0))*time.Millisecond:
		return fmt.Errorf("timeout %v out of range", req.Timeout)
	}
	for _, r := range req.Currency {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return fmt.Errorf("currency %q is not a 3-letter ISO 4217 code", req.Currency)
		}
	}
	return nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// Collect asks the customer for a card for req.PaymentIntent and waits for
// the outcome. One collection runs at a time: a second Collect while one
// runs fails with ErrBusy. When ctx ends the collection is cancelled on the
// reader and the error wraps both ErrCollectCanceled and ctx's error.
func (c *Client) Collect(ctx context.Context, req CollectRequest) (Collected, error) {
	if err := validCollect(req); err != nil {
		return Collected{}, fmt.Errorf("card reader collect for %q: %w", req.PaymentIntent, err)
	}
	op := "collect for " + req.PaymentIntent
	if req.Timeout == 0 {
		req.Timeout = DefaultCollectTimeout
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return Collected{}, fmt.Errorf("card reader %s: %w", op, ErrClosed)
	case c.sess == nil:
		c.mu.Unlock()
		return Collected{}, fmt.Errorf("card reader %s: %w", op, ErrNotConnected)
	case c.coll != nil:
		busy := c.coll.pi
		c.mu.Unlock()
		return Collected{}, fmt.Errorf("card reader %s: collecting for %s: %w", op, busy, ErrBusy)
	}
	// A new collection moves the reader on from any card it still held.
	for pi, t := range c.held {
		t.Stop()
		delete(c.held, pi)
	}
	s := c.sess
	k := &collection{pi: req.PaymentIntent, sess: s, result: make(chan collectResult, 1)}
	c.coll = k
	c.setStateLocked(StateBusy, nil)
	c.mu.Unlock()

	res := c.runCollect(ctx, s, k, req)

	c.mu.Lock()
	if c.coll == k {
		c.coll = nil
	}
	if c.state == StateBusy {
		c.setStateLocked(StateReady, nil)
	}
	c.mu.Unlock()
	return res.collected, res.err
}

func (c *Client) runCollect(ctx context.Context, s *session, k *collection, req CollectRequest) collectResult {
	msg := wire.Collect{
		PaymentIntent:  req.PaymentIntent,
		Amount:         req.Amount,
		Currency:       lowerASCII(req.Currency),
		CustomerCancel: req.CustomerCancel,
		OfflineAllowed: req.OfflineAllowed,
		TimeoutMS:      uint32(req.Timeout / time.Millisecond),
	}
	if err := s.roundTrip(ctx, wire.TypeCollect, &msg, nil); err != nil {
		c.mu.Lock()
		k.ended = true
		c.mu.Unlock()
		if ctx.Err() != nil {
			c.sendCancelBestEffort(req.PaymentIntent)
			return collectResult{err: fmt.Errorf("card reader collect for %s: %w: %w", req.PaymentIntent, ErrCollectCanceled, ctx.Err())}
		}
		return collectResult{err: err}
	}
	hostTimeout := time.NewTimer(req.Timeout + c.opts.CollectGrace)
	defer hostTimeout.Stop()
	select {
	case r := <-k.result:
		c.mu.Lock()
		released := k.cancelRequested
		c.mu.Unlock()
		if released && r.err == nil {
			return collectResult{err: fmt.Errorf("card reader collect for %s: %w", req.PaymentIntent, ErrCollectCanceled)}
		}
		if r.release {
			c.sendCancelBestEffort(req.PaymentIntent)
		}
		return r
	case <-ctx.Done():
		c.endCollect(k)
		c.sendCancelBestEffort(req.PaymentIntent)
		return collectResult{err: fmt.Errorf("card reader collect for %s: %w: %w", req.PaymentIntent, ErrCollectCanceled, ctx.Err())}
	case <-hostTimeout.C:
		c.endCollect(k)
		c.sendCancelBestEffort(req.PaymentIntent)
		return collectResult{err: fmt.Errorf("card reader collect for %s: no outcome from the reader within %v: %w",
			req.PaymentIntent, req.Timeout+c.opts.CollectGrace, ErrCollectTimeout)}
	case <-c.ctx.Done():
		return collectResult{err: fmt.Errorf("card reader collect for %s: %w", req.PaymentIntent, ErrClosed)}
	}
}

// endCollect marks k given up by the host: a late Collected for it is
// released, not returned.
func (c *Client) endCollect(k *collection) {
	c.mu.Lock()
	k.ended, k.cancelRequested = true, true
	c.mu.Unlock()
}

func (c *Client) sendCancelBestEffort(pi string) {
	if err := c.sendCancel(c.ctx, pi); err != nil {
		c.log.Warn("cancel collection on the reader", "payment_intent", pi, "err", err)
	}
}

// Close ends the session, stops reconnecting and waits for every goroutine
// the Client started. Calls in progress fail with ErrClosed. Close is
// idempotent; it must not be called from OnEvent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.evDone
		return nil
	}
	c.closed = true
	for pi, t := range c.held {
		t.Stop()
		delete(c.held, pi)
	}
	c.mu.Unlock()
	c.cancel()
	c.loopWG.Wait()
	c.mu.Lock()
	c.lastErr = nil
	c.setStateLocked(StateClosed, nil)
	c.mu.Unlock()
	c.evMu.Lock()
	c.evClosed = true
	select {
	case c.evWake <- struct{}{}:
	default:
	}
	c.evMu.Unlock()
	<-c.evDone
	return nil
}
