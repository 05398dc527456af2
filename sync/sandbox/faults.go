package sandbox

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind string

// Fault kinds. "Commit" is the moment the request's state change is
// applied (and its idempotent response saved).
const (
	FaultNone FaultKind = ""
	// FaultErrorBeforeCommit answers 500 api_error without touching state.
	// Like any 500 from Stripe, the response is saved for the idempotency
	// key and replayed.
	FaultErrorBeforeCommit FaultKind = "error_before_commit"
	// FaultErrorAfterCommit applies the request, then answers 500 instead
	// of the real response (and saves the 500 for the key).
	FaultErrorAfterCommit FaultKind = "error_after_commit"
	// FaultDropAfterCommit applies the request, saves the real response for
	// the key, then closes the connection without answering.
	FaultDropAfterCommit FaultKind = "drop_after_commit"
	// FaultRateLimit answers 429 rate_limit with Retry-After before
	// anything else happens; nothing is saved.
	FaultRateLimit FaultKind = "rate_limit"
	// FaultLatency only delays the request by LatencyMS (real time).
	FaultLatency FaultKind = "latency"
)

// FaultRule injects one kind of fault into matching requests.
type FaultRule struct {
	// Method matches the HTTP method; "" or "*" matches any.
	Method string `json:"method,omitempty"`
	// Path is a path.Match pattern over the request path, e.g.
	// "/v1/payment_intents/*/capture"; "" matches any path.
	Path string `json:"path,omitempty"`
	// Kind is the fault.
	Kind FaultKind `json:"kind"`
	// Probability in (0, 1]; 0 means 1 (always).
	Probability float64 `json:"probability,omitempty"`
	// Times caps how many requests the rule hits; 0 is unlimited.
	Times int `json:"times,omitempty"`
	// LatencyMS delays a hit request by this many milliseconds (any kind;
	// required for FaultLatency). Bounded by Options.MaxLatency.
	LatencyMS int `json:"latency_ms,omitempty"`
	// RetryAfter is the Retry-After seconds of FaultRateLimit (default 1).
	RetryAfter int `json:"retry_after,omitempty"`
	// Injected counts hits so far (read-only).
	Injected int `json:"injected"`
}

// FaultConfig is the whole fault set. Rules are evaluated in order for
// every request; each matching rule draws from its own generator seeded
// from Seed and the rule's position, so a given sequence of requests meets
// the same faults for the same seed.
type FaultConfig struct {
	Seed  int64       `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

type faultSet struct {
	mu          sync.Mutex
	defaultSeed int64
	cfg         FaultConfig
	rngs        []*rand.Rand
}

func newFaultSet(seed int64) *faultSet { return &faultSet{defaultSeed: seed} }

func (r FaultRule) validate() error {
	switch r.Kind {
	case FaultErrorBeforeCommit, FaultErrorAfterCommit, FaultDropAfterCommit, FaultRateLimit:
	case FaultLatency:
		if r.LatencyMS <= 0 {
			return fmt.Errorf("%w: kind latency needs latency_ms > 0", ErrBadFault)
		}
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrBadFault, r.Kind)
	}
	if r.Probability < 0 || r.Probability > 1 {
		return fmt.Errorf("%w: probability %v outside [0, 1]", ErrBadFault, r.Probability)
	}
	if r.Times < 0 || r.LatencyMS < 0 || r.RetryAfter < 0 {
		return fmt.Errorf("%w: negative times, latency_ms or retry_after", ErrBadFault)
	}
	if r.Path != "" {
		if _, err := path.Match(r.Path, "/"); err != nil {
			return fmt.Errorf("%w: bad path pattern %q: %v", ErrBadFault, r.Path, err)
		}
	}
	return nil
}

func (f *faultSet) set(cfg FaultConfig) error {
	for i, r := range cfg.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("fault rule %d: %w", i, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg.Seed == 0 {
		cfg.Seed = f.defaultSeed
	}
	rules := make([]FaultRule, len(cfg.Rules))
	copy(rules, cfg.Rules)
	f.cfg = FaultConfig{Seed: cfg.Seed, Rules: rules}
	f.rngs = make([]*rand.Rand, len(rules))
	for i := range rules {
		f.cfg.Rules[i].Injected = 0
		f.rngs[i] = rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)+1))
	}
	return nil
}

func (f *faultSet) get() FaultConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := FaultConfig{Seed: f.cfg.Seed, Rules: make([]FaultRule, len(f.cfg.Rules))}
	copy(out.Rules, f.cfg.Rules)
	return out
}

type faultHit struct {
	kind       FaultKind
	latency    time.Duration
	retryAfter int
}

func (r FaultRule) matches(method, p string) bool {
	if r.Method != "" && r.Method != "*" && !strings.EqualFold(r.Method, method) {
		return false
	}
	if r.Path == "" || r.Path == p {
		return true
	}
	ok, _ := path.Match(r.Path, p)
	return ok
}

// execPhase reports whether a kind is decided when the request runs
// (error and drop faults) rather than on arrival (429 and latency).
func (k FaultKind) execPhase() bool {
	return k == FaultErrorBeforeCommit || k == FaultErrorAfterCommit || k == FaultDropAfterCommit
}

// pick decides the faults of one phase for one request: on arrival
// (exec false: rate limits, latency) or when the request actually runs
// (exec true: errors and drops), so a replayed idempotent answer never
// spends an error fault.
func (f *faultSet) pick(method, p string, exec bool) faultHit {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hit faultHit
	for i := range f.cfg.Rules {
		r := &f.cfg.Rules[i]
		if r.Kind.execPhase() != exec || !r.matches(method, p) || (r.Times > 0 && r.Injected >= r.Times) {
			continue
		}
		prob := r.Probability
		if prob == 0 {
			prob = 1
		}
		if f.rngs[i].Float64() >= prob {
			continue
		}
		if r.Kind != FaultLatency && hit.kind != FaultNone {
			continue // one error per request; later rules keep their turn
		}
		r.Injected++
		hit.latency += time.Duration(r.LatencyMS) * time.Millisecond
		if r.Kind != FaultLatency {
			hit.kind = r.Kind
			hit.retryAfter = r.RetryAfter
			if hit.retryAfter == 0 {
				hit.retryAfter = 1
			}
		}
	}
	return hit
}

// SetFaults replaces the fault rules. An invalid rule is an error wrapping
// ErrBadFault and leaves the previous rules in place.
func (s *Server) SetFaults(cfg FaultConfig) error { return s.faults.set(cfg) }

// Faults returns the current rules with their hit counts.
func (s *Server) Faults() FaultConfig { return s.faults.get() }

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() { _ = s.faults.set(FaultConfig{}) }
