// Package simcard is the payment-method payload of Till's simulated card
// readers, and the sandbox's way to open it.
//
// A real reader encrypts what it reads from a card to its payment
// processor's key; the host carries the ciphertext and can never read it.
// The simulator does the same with AES-256-GCM under TestKey, a published
// test key that protects nothing: it lets the sandbox (sync/sandbox) open
// the payload, check that it was collected for the PaymentIntent it is
// presented to, and apply the named test card. Till itself never opens a
// payload.
//
// Wire form: 0x01 (format version) ‖ 12-byte nonce ‖ AES-256-GCM sealed JSON
// of Card, with the PaymentIntent id as additional data. A card collected
// offline (Card.Offline, store and forward) is sealed instead with the
// host's offline reference, the opaque string the host passed as the
// Collect request's PaymentIntent field while the payment API was out of
// reach; the sandbox opens it with that reference when the payment is
// forwarded.
package simcard

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
)

// TestKey is the simulated readers' processor key. It is public on
// purpose, like a payment API's test-mode card numbers.
var TestKey = [32]byte{
	0x74, 0x69, 0x6c, 0x6c, 0x2d, 0x73, 0x69, 0x6d, 0x75, 0x6c, 0x61, 0x74, 0x65, 0x64, 0x2d, 0x72,
	0x65, 0x61, 0x64, 0x65, 0x72, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x31,
}

const formatV1 = 0x01

// Card is what a simulated reader read.
type Card struct {
	// TestCard names the sandbox's simulated card ("visa",
	// "charge_declined_insufficient_funds", …); empty lets the amount
	// decide, as with the sandbox's test amounts.
	TestCard   string `json:"test_card,omitempty"`
	Brand      string `json:"brand"`
	Last4      string `json:"last4"`
	ExpMonth   int    `json:"exp_month"`
	ExpYear    int    `json:"exp_year"`
	ReadMethod string `json:"read_method"` // contactless_emv, contact_emv, magnetic_stripe_track2
	// Offline marks a card collected for deferred authorisation (store
	// and forward): the payload is then bound to the host's offline
	// reference instead of a PaymentIntent id.
	Offline bool `json:"offline,omitempty"`
	// Amount and Currency are what the reader asked the customer to pay
	// (minor units, lower-case ISO 4217); zero when unknown.
	Amount   int64  `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	// CollectedAt is the reader's clock, Unix seconds.
	CollectedAt int64 `json:"collected_at"`
}

// ErrInvalid is wrapped by every Open failure.
var ErrInvalid = errors.New("invalid simulated reader payload")

func aead() cipher.AEAD {
	block, err := aes.NewCipher(TestKey[:])
	if err != nil {
		panic(err) // a 32-byte key cannot fail
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// Seal encrypts c as collected for paymentIntent (a PaymentIntent id, or
// for an offline card the host's offline reference).
func Seal(paymentIntent string, c Card) []byte {
	plain, err := json.Marshal(c)
	if err != nil {
		panic(err) // only strings, ints and bools
	}
	g := aead()
	out := make([]byte, 1+g.NonceSize(), 1+g.NonceSize()+len(plain)+g.Overhead())
	out[0] = formatV1
	_, _ = rand.Read(out[1:]) // crypto/rand never fails
	return g.Seal(out, out[1:1+g.NonceSize()], plain, []byte(paymentIntent))
}

// Open decrypts a payload presented for paymentIntent (or offline
// reference). It fails, wrapping ErrInvalid, for anything not sealed by
// Seal for exactly that string.
func Open(paymentIntent string, payload []byte) (Card, error) {
	g := aead()
	if len(payload) < 1+g.NonceSize()+g.Overhead() || payload[0] != formatV1 {
		return Card{}, fmt.Errorf("%w: unknown format", ErrInvalid)
	}
	plain, err := g.Open(nil, payload[1:1+g.NonceSize()], payload[1+g.NonceSize():], []byte(paymentIntent))
	if err != nil {
		return Card{}, fmt.Errorf("%w: not collected for %s", ErrInvalid, paymentIntent)
	}
	var c Card
	if err := json.Unmarshal(plain, &c); err != nil {
		return Card{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return c, nil
}
