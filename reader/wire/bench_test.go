package wire

import (
	"testing"
)

// BenchmarkAppendFrame encodes the golden Collect frame into a reused
// buffer: the host's per-request framing cost.
func BenchmarkAppendFrame(b *testing.B) {
	payload, err := Marshal(goldenCollectMsg)
	if err != nil {
		b.Fatal(err)
	}
	fr := Frame{Version: Version1, Type: TypeCollect, Seq: 1, Payload: payload}
	buf := make([]byte, 0, MaxFrame)
	b.SetBytes(int64(HeaderSize + len(payload) + TrailerSize))
	b.ReportAllocs()
	for b.Loop() {
		fr.Seq++
		if buf, err = AppendFrame(buf[:0], fr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecoderNext feeds one frame and takes it out again, with a
// long-lived Decoder: the per-frame decoding cost once its buffer has
// grown.
func BenchmarkDecoderNext(b *testing.B) {
	for _, bc := range []struct {
		name string
		msg  any
		typ  Type
	}{
		{"collect", goldenCollectMsg, TypeCollect},
		{"display20", &Display{Screen: ScreenCart, Cart: cart20()}, TypeSetDisplay},
	} {
		b.Run(bc.name, func(b *testing.B) {
			frame := mustFrame(b, bc.typ, 7, bc.msg)
			var d Decoder
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				d.Feed(frame)
				f, err := d.Next()
				if err != nil || f.Seq != 7 {
					b.Fatalf("Next = %+v, %v", f, err)
				}
			}
		})
	}
}

func BenchmarkMarshalDisplay(b *testing.B) {
	d := &Display{Screen: ScreenCart, Cart: cart20(), Language: "fr-FR"}
	p, err := Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalDisplay(b *testing.B) {
	p, err := Marshal(&Display{Screen: ScreenCart, Cart: cart20(), Language: "fr-FR"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	var d Display
	for b.Loop() {
		if err := Unmarshal(p, &d); err != nil {
			b.Fatal(err)
		}
	}
}
