// Package sim is a simulated card reader: the device side of Till's reader
// protocol (package reader/wire), for tests, the headless lane, the
// embedded demo and the standalone simulator window (cmd/till-reader-sim).
//
// # Basics
//
// New makes a Device. A Device serves one host connection at a time over
// any reader.Transport: Serve for a transport you already hold, Dialer for
// an in-process reader.Dialer (each Dial makes a reader.Pipe and serves its
// device end), ServeListener for hosts connecting over TCP on loopback.
//
// The Device answers requests exactly as the protocol says a reader must:
// Identify first (version negotiation), SetDisplay and ClearDisplay,
// Collect with its WaitingForCard event and collection timeout,
// CancelCollect, Heartbeat and EventAck; every event is retransmitted until
// the host acknowledges it. The customer's side is driven by controls, safe
// from any goroutine: Tap, Insert (with or without PIN entry), Swipe,
// CustomerCancel and FailRead; or by Options.Auto, which presents a card by
// itself after every Collect. A collected card's payload is sealed with
// reader/simcard for the PaymentIntent it was collected for, so the
// sandbox (sync/sandbox) accepts it for that PaymentIntent and no other.
//
// A Collect with OfflineAllowed (the host cannot reach the payment API)
// collects for deferred authorisation: the Collected event and the
// payload are marked offline, and the payload is bound to whatever the
// host passed as PaymentIntent, its offline reference, which the sandbox
// expects with the forwarded payment. A Device whose Capabilities lack
// OfflineCapable ends such a Collect at once with Error
// offline_not_allowed.
//
// Faults are controls too: Unplug and Replug, GarbleNext (corrupt outgoing
// frames), SetLatency (a slow reader) and SetMute (a hung reader).
//
// Snapshot is everything a person would see on the device; OnChange and
// Changed report every change of it.
//
// # Caveats
//
// The simulator never contacts a processor, so it has no "online" of its
// own: it collects offline exactly when the host sets OfflineAllowed, and
// it applies no offline limits (the host enforces them). It holds no
// state across power cycles: when the host connection ends (or on Unplug)
// any collection is dropped and the screen returns to idle, as a
// bus-powered reader would. Its event sequence numbers carry on across
// connections. A Collect with TimeoutMS 0 waits reader.DefaultCollectTimeout.
// Controls return an error (ErrNoCollection, ErrNotAllowed,
// ErrNotCapable, ErrUnknownCard) when they make no sense at the moment,
// and change nothing then.
package sim
