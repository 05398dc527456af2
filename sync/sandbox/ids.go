package sandbox

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idGen makes Stripe-looking identifiers (pi_3Q…, 24 base-62 characters
// after the prefix). With a non-zero seed the sequence is reproducible.
type idGen struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
}

func newIDGen(seed int64) *idGen {
	var s [32]byte
	if seed != 0 {
		binary.LittleEndian.PutUint64(s[:], uint64(seed))
		s[31] = 'i'
	} else {
		_, _ = crand.Read(s[:])
	}
	return &idGen{rng: rand.NewChaCha8(s)}
}

func (g *idGen) token(n int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[g.rng.Uint64()%uint64(len(idAlphabet))]
	}
	return string(b)
}

func (g *idGen) id(prefix string) string { return prefix + g.token(24) }
