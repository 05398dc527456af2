// Package reader connects Till to a card reader: the customer-facing box
// that shows the cart, reads a card and hands back an encrypted payment
// method for a PaymentIntent. Till speaks its own open protocol to it
// (framing and messages in reader/wire, documented for hardware vendors in
// docs/), over USB, TCP or an in-memory pipe. The package never imports
// Fyne: it reports to the UI through typed events.
//
// # Basics
//
// The app uses the [Reader] interface. Its one implementation is
// [*Client], built by [New] over a [Dialer]:
//
//   - [USBDialer] finds a reader on USB by vendor and product IDs (gousb);
//   - [TCPDialer] reaches the standalone simulator (cmd/till-reader-sim),
//     whose window is the reader, on a loopback address;
//   - reader/sim is the simulator itself, dialled in memory through
//     [Pipe], which tests use too.
//
// New returns at once and keeps a session open in the background: it
// dials, identifies the reader (protocol version 1), then sends heartbeats
// while idle. When the reader is unplugged or stops answering it fails the
// calls in progress with [ErrDisconnected], reports StateDisconnected, and
// dials again with backoff until [Client.Close]. [Client.Connect] waits
// for the reader; [Client.State] and [Client.Info] say where things stand.
//
//	c := reader.New(reader.Options{Dialer: reader.TCPDialer("127.0.0.1:7070"), OnEvent: show})
//	defer c.Close()
//	err := c.SetDisplay(ctx, reader.Display{Screen: wire.ScreenCart, Cart: &cart})
//	card, err := c.Collect(ctx, reader.CollectRequest{PaymentIntent: pi, Amount: 1200, Currency: "eur"})
//
// Everything the reader reports, connection state included, reaches
// Options.OnEvent as an [Event], from one goroutine and in order: prompts
// (waiting for a card, card presented, PIN entry, card removed) and
// outcomes. [Client.Collect] itself returns the outcome of its collection:
// a [Collected], or an error to branch on with errors.Is and errors.As —
// [ErrCustomerCancelled], [ErrCollectTimeout], [ErrCollectCanceled],
// [ErrDisconnected], [ErrBusy], [ErrClosed] or a [*DeviceError].
//
// Timing follows the protocol and SPEC §2.1. Each request waits
// Options.RequestTimeout (2 s) for its reply, then fails with
// [ErrNoResponse]; three unanswered in a row end the session. A reader
// waits [DefaultCollectTimeout] for a card unless CollectRequest.Timeout
// says otherwise, and the Client gives up Options.CollectGrace after that
// if the reader never ends the collection. After a card is collected the
// app has [ProcessWindow] (30 s, see Collected.ProcessBy) to process it or
// release it.
//
// # Caveats
//
// One collection runs at a time per Client: a second Collect fails with
// [ErrBusy] without reaching the reader. Cancelling Collect's context
// cancels the collection on the reader.
//
// A collected card must be processed or released within ProcessWindow.
// SetDisplay, ClearDisplay or CancelCollect(paymentIntent) tell the reader
// the app is done with it; otherwise the Client releases it itself with
// CancelCollect and reports an EventError wrapping [ErrProcessWindow]. A
// card collected just after its Collect gave up (context, timeout) is
// released by the CancelCollect the Client sent then, and only reported.
//
// Collected.Payload is the reader's encrypted payment method, for the
// payment API only: the Client never logs it, and neither should callers.
// Card numbers never reach Till; Brand and Last4 are for the receipt.
//
// OnEvent runs on the Client's single event goroutine: it must return
// quickly (hand work to another goroutine) and must not call Close. Events
// queue while it runs; past a bound, reader events are dropped and counted
// in [Stats].DroppedEvents.
//
// A damaged byte stream is survived, not trusted: garbled bytes are
// skipped, a partial frame is given up after Options.ResyncAfter, replies
// nobody waits for are dropped, retransmitted events are acknowledged again
// but delivered once. [Client.Stats] counts each of these.
package reader
