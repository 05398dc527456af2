package reader

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tillpos/till/reader/wire"
)

// benchResponder is the least a reader can do: answer every request with
// an empty reply (Identify with Info), reusing its buffers.
func benchResponder(b *testing.B, dev Transport) {
	info, err := wire.Marshal(&testInfo)
	if err != nil {
		b.Error(err)
		return
	}
	var dec wire.Decoder
	buf := make([]byte, 16<<10)
	var out []byte
	ctx := context.Background()
	for {
		f, err := dec.Next()
		if errors.Is(err, wire.ErrNeedMore) {
			n, err := dev.ReadContext(ctx, buf)
			if err != nil {
				return
			}
			dec.Feed(buf[:n])
			continue
		}
		if err != nil {
			b.Error(err)
			return
		}
		var payload []byte
		if f.Type == wire.TypeIdentify {
			payload = info
		}
		out, _ = wire.AppendFrame(out[:0], wire.Frame{Version: 1, Type: f.Type.Response(), Seq: f.Seq, Payload: payload})
		if _, err := dev.WriteContext(ctx, out); err != nil {
			return
		}
	}
}

// benchClient connects a Client to benchResponder over a Pipe.
func benchClient(b *testing.B, onEvent func(Event)) (*Client, Transport) {
	host, dev := Pipe()
	d := &scriptDialer{next: make(chan dialResult, 1)}
	d.next <- dialResult{t: host}
	c := New(Options{Dialer: d, OnEvent: onEvent})
	b.Cleanup(func() { c.Close() })
	go benchResponder(b, dev)
	if err := c.Connect(b.Context()); err != nil {
		b.Fatal(err)
	}
	return c, dev
}

func BenchmarkSetDisplayRoundTrip(b *testing.B) {
	c, _ := benchClient(b, nil)
	cart := &wire.Cart{Currency: "eur"}
	for i := range 20 {
		cart.Lines = append(cart.Lines, wire.Line{Name: fmt.Sprintf("Article %02d, taille M", i), Quantity: int32(i%3 + 1), Amount: int64(199 * (i + 1))})
		cart.Subtotal += int64(199 * (i + 1))
	}
	cart.Tax = cart.Subtotal / 5
	cart.Total = cart.Subtotal + cart.Tax
	d := Display{Screen: wire.ScreenCart, Cart: cart}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SetDisplay(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventDelivery measures one event from the reader's write to
// OnEvent, its ack answered meanwhile.
func BenchmarkEventDelivery(b *testing.B) {
	got := make(chan struct{}, 1)
	c, dev := benchClient(b, func(ev Event) {
		if ev.Kind == EventCardPresented {
			got <- struct{}{}
		}
	})
	payload, err := wire.Marshal(&wire.CardPresented{PaymentIntent: "pi_3MtwBwLkdIwHu7ix28a3tqPa", Method: wire.ReadContactless})
	if err != nil {
		b.Fatal(err)
	}
	var frame []byte
	seq := uint16(0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if seq++; seq == 0 {
			seq = 1
		}
		frame, _ = wire.AppendFrame(frame[:0], wire.Frame{Version: 1, Type: wire.TypeCardPresented, Seq: seq, Payload: payload})
		if _, err := dev.WriteContext(ctx, frame); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	b.StopTimer()
	if s := c.Stats(); s.Duplicates != 0 || s.BadFrames != 0 {
		b.Fatalf("Stats %+v", s)
	}
}
