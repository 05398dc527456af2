package sim

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/reader/wire"
)

func frameBytes(t testing.TB, typ wire.Type, seq uint16, msg any) []byte {
	b, err := wire.AppendMessage(nil, typ, seq, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDeviceInput feeds arbitrary bytes to an identified device: whatever
// they hold, it must not panic and must still answer a Heartbeat sent
// after them.
func FuzzDeviceInput(f *testing.F) {
	seeds := [][]byte{
		frameBytes(f, wire.TypeSetDisplay, 2, wire.Display{Screen: wire.ScreenCart, Cart: cart(3)}),
		frameBytes(f, wire.TypeSetDisplay, 2, wire.Display{Screen: wire.ScreenQR, QR: &wire.QR{Payload: "https://pay.example/x", ExpiresIn: 60}}),
		frameBytes(f, wire.TypeSetDisplay, 2, wire.Display{Screen: 9}),
		frameBytes(f, wire.TypeClearDisplay, 3, nil),
		frameBytes(f, wire.TypeCollect, 4, wire.Collect{PaymentIntent: "pi_f", Amount: 100, Currency: "chf", TimeoutMS: 1000}),
		frameBytes(f, wire.TypeCollect, 4, wire.Collect{PaymentIntent: "off_lane1_0042", Amount: 100, Currency: "chf", OfflineAllowed: true, TimeoutMS: 1000}),
		frameBytes(f, wire.TypeCancelCollect, 5, wire.CancelCollect{PaymentIntent: "pi_f"}),
		frameBytes(f, wire.TypeEventAck, 6, wire.EventAck{Seq: 1}),
		frameBytes(f, wire.TypeIdentify, 7, wire.Identify{Versions: []uint8{9}}),
		frameBytes(f, wire.Type(0x3F), 8, nil),
		frameBytes(f, wire.TypeWaitingForCard, 9, nil),
		{wire.Magic0, wire.Magic1, 1, 4, 1, 0, 0xff, 0x3f},
		{wire.Magic0, wire.Magic1, 1, 4, 1, 0, 50, 0, 1, 2},
		[]byte("garbage TL garbage"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	identify := frameBytes(f, wire.TypeIdentify, 1, wire.Identify{Versions: []uint8{1}})
	heartbeat := frameBytes(f, wire.TypeHeartbeat, 0xFFFF, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		synctest.Test(t, func(t *testing.T) {
			_, h := start(t, Options{})
			h.write(identify)
			h.write(in)
			h.write(heartbeat)
			// Each damaged frame start may cost a partial-frame timeout.
			wait := hostWait + time.Duration(len(in))*PartialFrameTimeout
			for {
				f, err := h.read(wait)
				if err != nil {
					t.Fatalf("waiting for the Heartbeat reply: %v", err)
				}
				if f.Type.IsResponse() && f.Seq == 0xFFFF {
					return
				}
			}
		})
	})
}
