package simcard

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var cards = []struct {
	name string
	pi   string
	card Card
}{
	{"approve by amount", "pi_3QxYz2LkdIwHu7ix0a1b2c3d", Card{
		Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034, ReadMethod: "contactless_emv", CollectedAt: 1795000000,
	}},
	{"named decline", "pi_2", Card{
		TestCard: "charge_declined_insufficient_funds", Brand: "mastercard", Last4: "9995",
		ExpMonth: 1, ExpYear: 2030, ReadMethod: "contact_emv", CollectedAt: 1,
	}},
	{"offline swipe", "pi_3", Card{Brand: "amex", Last4: "0005", ExpMonth: 6, ExpYear: 2031, ReadMethod: "magnetic_stripe_track2", Offline: true}},
	{"offline, bound to an offline reference", "off_lane1_20261123_0042", Card{
		TestCard: "visa", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2029, ReadMethod: "contactless_emv",
		Offline: true, Amount: 4200, Currency: "eur", CollectedAt: 1795000000,
	}},
	{"zero card", "pi_4", Card{}},
	{"unicode intent", "pi_é\x00x", Card{Brand: "visa", Last4: "0000"}},
	{"empty intent", "", Card{Brand: "visa"}},
}

func TestSealOpen(t *testing.T) {
	for _, tc := range cards {
		t.Run(tc.name, func(t *testing.T) {
			p := Seal(tc.pi, tc.card)
			if p[0] != formatV1 {
				t.Fatalf("format byte 0x%02X", p[0])
			}
			got, err := Open(tc.pi, p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.card {
				t.Fatalf("Open = %+v, want %+v", got, tc.card)
			}
			// Nothing of the card is readable in the payload.
			for _, s := range []string{tc.card.Last4, tc.card.Brand, tc.card.TestCard, "last4"} {
				if len(s) >= 4 && bytes.Contains(p, []byte(s)) {
					t.Fatalf("payload contains %q in clear", s)
				}
			}
			// A fresh nonce each time: two seals of the same card differ.
			if again := Seal(tc.pi, tc.card); bytes.Equal(again, p) || bytes.Equal(again[1:13], p[1:13]) {
				t.Fatal("two seals share a nonce")
			}
		})
	}
}

// TestOpenRejects: anything but an intact payload sealed for this
// PaymentIntent fails with ErrInvalid and no card.
func TestOpenRejects(t *testing.T) {
	const pi = "pi_3QxYz2LkdIwHu7ix0a1b2c3d"
	good := Seal(pi, cards[0].card)
	wrongVersion := bytes.Clone(good)
	wrongVersion[0] = 0x02
	tests := []struct {
		name    string
		pi      string
		payload []byte
		msg     string
	}{
		{"other PaymentIntent", "pi_3QxYz2LkdIwHu7ix0a1b2c3e", good, "not collected for pi_3QxYz2LkdIwHu7ix0a1b2c3e"},
		{"empty PaymentIntent", "", good, "not collected for"},
		{"wrong version", pi, wrongVersion, "unknown format"},
		{"version zero", pi, append([]byte{0}, good[1:]...), "unknown format"},
		{"nil", pi, nil, "unknown format"},
		{"only the version", pi, good[:1], "unknown format"},
		{"no ciphertext", pi, good[:1+12+16-1], "unknown format"},
		{"appended byte", pi, append(bytes.Clone(good), 0), "not collected for"},
		{"not JSON inside", pi, sealRaw(pi, []byte("visa 4242")), "invalid character"},
		{"empty plaintext", pi, sealRaw(pi, nil), "unexpected end of JSON"},
		{"wrong JSON type", pi, sealRaw(pi, []byte(`{"last4":4242}`)), "cannot unmarshal number"},
	}
	for i := range good {
		tampered := bytes.Clone(good)
		tampered[i] ^= 0x01
		msg := "not collected for"
		if i == 0 {
			msg = "unknown format"
		}
		tests = append(tests, struct {
			name    string
			pi      string
			payload []byte
			msg     string
		}{"tampered byte", pi, tampered, msg})
	}
	for n := 0; n < len(good); n++ {
		msg := "not collected for"
		if n < 1+12+16 {
			msg = "unknown format"
		}
		tests = append(tests, struct {
			name    string
			pi      string
			payload []byte
			msg     string
		}{"truncated", pi, good[:n], msg})
	}
	for _, tc := range tests {
		c, err := Open(tc.pi, tc.payload)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s (%d bytes): Open = %+v, %v; want ErrInvalid", tc.name, len(tc.payload), c, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Fatalf("%s (%d bytes): error %q does not say %q", tc.name, len(tc.payload), err, tc.msg)
		}
		if c != (Card{}) {
			t.Fatalf("%s: a failed Open returned %+v", tc.name, c)
		}
	}
}

// sealRaw seals arbitrary plaintext the way Seal does, for payloads Seal
// itself cannot produce.
func sealRaw(pi string, plain []byte) []byte {
	g := aead()
	out := make([]byte, 1+g.NonceSize())
	out[0] = formatV1
	copy(out[1:], "fixed nonce!")
	return g.Seal(out, out[1:], plain, []byte(pi))
}

// TestTestKeyIsPublished pins the key: the sandbox and any other
// implementation of the simulated reader must use exactly this one.
func TestTestKeyIsPublished(t *testing.T) {
	if got := string(TestKey[:]); got != "till-simulated-reader-test-key-1" {
		t.Fatalf("TestKey = %q", got)
	}
}

// FuzzOpen opens arbitrary payloads for arbitrary PaymentIntents: never a
// panic, a failure always wraps ErrInvalid, and whatever opens seals and
// opens again to the same card.
func FuzzOpen(f *testing.F) {
	for _, tc := range cards {
		p := Seal(tc.pi, tc.card)
		f.Add(tc.pi, p)
		f.Add(tc.pi+"x", p)
		f.Add(tc.pi, p[:len(p)-1])
	}
	f.Add("pi_1", sealRaw("pi_1", []byte(`{"brand":"visa","exp_month":1e400}`)))
	f.Add("pi_1", sealRaw("pi_1", []byte(`{"brand":"visa","unknown":[1,2,{}]}`)))
	f.Add("pi_1", []byte{formatV1})
	f.Fuzz(func(t *testing.T, pi string, payload []byte) {
		c, err := Open(pi, payload)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := Open(pi, Seal(pi, c))
		if err != nil || again != c {
			t.Fatalf("reseal: %+v, %v; want %+v", again, err, c)
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	const pi = "pi_3QxYz2LkdIwHu7ix0a1b2c3d"
	c := cards[0].card
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(pi, Seal(pi, c)); err != nil {
			b.Fatal(err)
		}
	}
}
