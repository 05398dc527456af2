package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

// Idempotency follows Stripe's documented rules:
//
//   - Keys are scoped to the API key that sent them (the scope is a hash of
//     the API key; the key itself is never stored).
//   - The first response of an endpoint that started executing is saved —
//     status and body, 500s included — and replayed for the same key with
//     the same method, path and parameters, with Idempotent-Replayed: true
//     and Original-Request naming the request that produced it.
//   - The same key with a different method, path or parameters is 400
//     idempotency_error and is not saved.
//   - The same key while the first request is still running is 409
//     idempotency_key_in_use and is not saved.
//   - Validation failures and 429s are not saved, so the key stays fresh.
//   - Saved keys are pruned once older than Options.IdempotencyTTL on the
//     sandbox clock; a pruned key is a fresh request.

// maxIdempotencyKeyLen is Stripe's limit on the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

type idemRecord struct {
	Created     int64           `json:"created"`
	Fingerprint string          `json:"fingerprint"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
	RequestID   string          `json:"request_id"`
}

type idemQueued struct {
	key     string
	created int64
}

func sortIdemQueue(q []idemQueued) {
	sort.Slice(q, func(i, j int) bool { return q[i].created < q[j].created })
}

// scopeOf hashes an API key into the idempotency scope.
func scopeOf(apiKey string) string {
	sum := sha256.Sum256([]byte(apiKey))
	return hex.EncodeToString(sum[:8])
}

func fingerprint(method, path string, form *formNode) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write([]byte(form.canonical()))
	return hex.EncodeToString(h.Sum(nil))
}

type idemOutcome int

const (
	idemFresh idemOutcome = iota
	idemReplay
	idemConflict
)

// idemBegin looks the key up; for a fresh key it marks it in flight.
// Called with s.mu held.
func (s *Server) idemBegin(scoped, fp, key string, now int64) (idemOutcome, *idemRecord, *apiError) {
	st := s.st
	s.pruneIdempotency(now)
	if st.inflight[scoped] {
		return idemConflict, nil, &apiError{Status: http.StatusConflict, Type: typeInvalidRequest, Code: "idempotency_key_in_use",
			Message: fmt.Sprintf("There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): %s. Please try again later.", truncate(key, 80))}
	}
	if rec, ok := st.Idem[scoped]; ok {
		if rec.Fingerprint != fp {
			return idemConflict, nil, &apiError{Status: http.StatusBadRequest, Type: typeIdempotency,
				Message: fmt.Sprintf("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '%s' if you meant to execute a different request.", truncate(key, 80))}
		}
		return idemReplay, rec, nil
	}
	st.inflight[scoped] = true
	return idemFresh, nil, nil
}

// idemFinish clears the in-flight mark and, when the response is to be
// saved, stores it. Called with s.mu held.
func (s *Server) idemFinish(scoped, fp, reqID string, now int64, resp *response) {
	st := s.st
	delete(st.inflight, scoped)
	if resp == nil || !resp.save {
		return
	}
	st.Idem[scoped] = &idemRecord{Created: now, Fingerprint: fp, Status: resp.status, Body: resp.body, RequestID: reqID}
	st.idemQueue = append(st.idemQueue, idemQueued{key: scoped, created: now})
	s.touch(bucketIdem, scoped)
	s.dirty = true
}

// pruneIdempotency drops saved keys older than the TTL. Called with s.mu
// held.
func (s *Server) pruneIdempotency(now int64) {
	st := s.st
	ttl := int64(s.opts.IdempotencyTTL.Seconds())
	i := 0
	for ; i < len(st.idemQueue); i++ {
		q := st.idemQueue[i]
		if now-q.created < ttl {
			break
		}
		if rec, ok := st.Idem[q.key]; ok && rec.Created == q.created {
			delete(st.Idem, q.key)
			s.touch(bucketIdem, q.key)
			s.dirty = true
		}
	}
	if i > 0 {
		st.idemQueue = st.idemQueue[i:]
	}
}
