package reader

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/tillpos/till/reader/wire"
)

// sessionSeeds are byte streams a reader might send after Identify: sound
// frames, damaged ones and noise.
func sessionSeeds(t testing.TB) [][]byte {
	event := rawFrame(t, wire.TypeCardPresented, 1, &wire.CardPresented{PaymentIntent: "pi_1", Method: wire.ReadChip})
	collected := rawFrame(t, wire.TypeCollected, 2, &wire.Collected{PaymentIntent: "pi_1", Payload: bytes.Repeat([]byte{0xAB}, 512), Brand: "visa", Last4: "4242"})
	badCRC := slices.Clone(event)
	badCRC[len(badCRC)-2] ^= 0x55
	oversized := []byte{wire.Magic0, wire.Magic1, 1, 0x81, 3, 0, 0xff, 0xff}
	truncated := event[:len(event)/2]
	return [][]byte{
		{},
		event,
		slices.Concat(event, event), // a retransmission
		collected,
		rawFrame(t, wire.TypeError, 3, &wire.ErrorEvent{PaymentIntent: "pi_1", Code: wire.CodeCollectTimeout}),
		rawFrame(t, wire.TypeIdentify.Response(), 1, &testInfo),          // a reply already received
		rawFrame(t, wire.TypeSetDisplay.Response(), 2, nil),              // a reply to a request not yet sent
		rawFrame(t, wire.TypeNak, 40000, &wire.Nak{Code: wire.CodeBusy}), // wrong seq
		rawFrame(t, wire.TypeCollect, 5, nil),                            // a request, from the reader
		rawFrame(t, 0xBF, 6, []byte{0xa0}),                               // unknown event
		rawFrame(t, wire.TypeWaitingForCard, 0, []byte{0xff, 0x00}),      // payload not CBOR
		{wire.Magic0, wire.Magic1, 9, 0x81, 1, 0, 0, 0, 0, 0, 0, 0},      // unknown version, bad CRC
		badCRC,
		oversized,
		truncated,
		slices.Concat(truncated, event),
		slices.Concat([]byte("noise\x00TLTLT"), event, []byte{wire.Magic0}),
		slices.Concat(oversized, collected, truncated),
	}
}

// FuzzSession feeds a session arbitrary bytes after a sound Identify, then
// checks the Client still works: it neither panics nor hangs, it keeps
// answering requests when the noise holds no frame start, and Close ends
// every goroutine (TestMain's goleak check).
func FuzzSession(f *testing.F) {
	for _, s := range sessionSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, noise []byte) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, Options{})
			d := h.plug()
			d.write(noise)
			synctest.Wait()
			go d.serve(nil)
			err := h.c.SetDisplay(t.Context(), testCart())
			if err != nil {
				// Only a partial frame in the noise can hold up the reply
				// past the request timeout, while the decoder resyncs.
				if !bytes.Contains(noise, []byte{wire.Magic0, wire.Magic1}) {
					t.Fatalf("SetDisplay after noise with no frame start: %v", err)
				}
				if !errors.Is(err, ErrNoResponse) && !errors.Is(err, ErrDisconnected) {
					t.Fatalf("SetDisplay: unexpected error %v", err)
				}
			}
			if err := h.c.Close(); err != nil {
				t.Fatal(err)
			}
			if st := h.c.State(); st != StateClosed {
				t.Fatalf("state %s after Close", st)
			}
		})
	})
}
