package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"
)

// Control endpoints under /_sandbox/ answer only loopback clients. They
// take and return JSON.

func isLoopback(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

func (s *Server) control(h func(w http.ResponseWriter, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := newRequestID(s)
		if !isLoopback(r.RemoteAddr) {
			s.writeError(w, r, reqID, &apiError{Status: http.StatusForbidden, Type: typeInvalidRequest, Message: "The /_sandbox/ control endpoints only answer loopback clients."})
			return
		}
		out, err := h(w, r)
		if err != nil {
			status := http.StatusBadRequest
			var ae *apiError
			if errors.Is(err, errWriteData) {
				s.writeError(w, r, reqID, persistFailure())
				return
			}
			if errors.As(err, &ae) {
				s.writeError(w, r, reqID, ae)
				return
			}
			s.writeError(w, r, reqID, &apiError{Status: status, Type: typeInvalidRequest, Message: err.Error()})
			return
		}
		s.writeRaw(w, reqID, "", http.StatusOK, mustJSON(out))
	}
}

func readJSON(r *http.Request, w http.ResponseWriter, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode JSON body: %w", err)
	}
	return nil
}

// ClockState is the answer of /_sandbox/clock.
type ClockState struct {
	Now           int64  `json:"now"`
	NowRFC3339    string `json:"now_rfc3339"`
	OffsetSeconds int64  `json:"offset_seconds"`
}

// ClockRequest moves the clock: exactly one of Advance (a Go duration such
// as "2h30m"), AdvanceSeconds or Now (unix seconds).
type ClockRequest struct {
	Advance        string `json:"advance,omitempty"`
	AdvanceSeconds int64  `json:"advance_seconds,omitempty"`
	Now            int64  `json:"now,omitempty"`
}

func (s *Server) clockState() ClockState {
	now := s.clock.Now()
	return ClockState{Now: now.Unix(), NowRFC3339: now.UTC().Format(time.RFC3339), OffsetSeconds: int64(s.clock.Offset().Seconds())}
}

func (s *Server) controlClock(w http.ResponseWriter, r *http.Request) (any, error) {
	switch r.Method {
	case http.MethodGet:
		return s.clockState(), nil
	case http.MethodPost:
		var req ClockRequest
		if err := readJSON(r, w, &req); err != nil {
			return nil, err
		}
		set := 0
		if req.Advance != "" {
			set++
		}
		if req.AdvanceSeconds != 0 {
			set++
		}
		if req.Now != 0 {
			set++
		}
		if set != 1 {
			return nil, fmt.Errorf("give exactly one of advance, advance_seconds, now")
		}
		var err error
		switch {
		case req.Advance != "":
			var d time.Duration
			if d, err = time.ParseDuration(req.Advance); err == nil {
				err = s.Advance(d)
			}
		case req.AdvanceSeconds != 0:
			err = s.Advance(time.Duration(req.AdvanceSeconds) * time.Second)
		default:
			err = s.SetNow(time.Unix(req.Now, 0))
		}
		if err != nil {
			return nil, err
		}
		return s.clockState(), nil
	}
	return nil, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Message: "Use GET or POST."}
}

func (s *Server) controlReset(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Message: "Use POST."}
	}
	if err := s.Reset(); err != nil {
		return nil, err
	}
	return map[string]any{"reset": true}, nil
}

func (s *Server) controlFaults(w http.ResponseWriter, r *http.Request) (any, error) {
	switch r.Method {
	case http.MethodGet:
		return s.Faults(), nil
	case http.MethodPost, http.MethodPut:
		var cfg FaultConfig
		if err := readJSON(r, w, &cfg); err != nil {
			return nil, err
		}
		if err := s.SetFaults(cfg); err != nil {
			return nil, err
		}
		return s.Faults(), nil
	case http.MethodDelete:
		s.ClearFaults()
		return s.Faults(), nil
	}
	return nil, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Message: "Use GET, POST or DELETE."}
}

// Now returns the sandbox clock's time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Advance moves the sandbox clock forward by d and applies every timed
// transition that became due (authorisation expiry, wallet and
// authentication windows, SEPA settlement, idempotency pruning). With a
// data file, it fails if the result cannot be written (the change stays in
// memory and is retried by the next write).
func (s *Server) Advance(d time.Duration) error {
	if err := s.clock.Advance(d); err != nil {
		return err
	}
	return s.applyDue()
}

// SetNow moves the sandbox clock to t (never backwards) and applies what
// became due.
func (s *Server) SetNow(t time.Time) error {
	if err := s.clock.Set(t); err != nil {
		return err
	}
	return s.applyDue()
}

func (s *Server) applyDue() error {
	s.mu.Lock()
	s.tick(s.clock.Now().Unix())
	s.dirty = true // the clock offset is persisted too
	gen := s.bump()
	s.mu.Unlock()
	return s.persist(gen)
}

// bump turns a dirty state into a new generation to persist. Called with
// s.mu held; returns 0 when nothing changed.
func (s *Server) bump() uint64 {
	if !s.dirty {
		return 0
	}
	s.collect()
	s.dirty = false
	s.gen++
	return s.gen
}

// Reset forgets every object, event, saved idempotency key and fault rule,
// and puts the clock back on its base time source.
func (s *Server) Reset() error {
	s.ClearFaults()
	s.mu.Lock()
	s.st = newState()
	s.clock.setOffset(0)
	if s.store != nil {
		clear(s.touched)
		s.pending = delta{reset: true}
	}
	s.dirty = true
	gen := s.bump()
	s.mu.Unlock()
	return s.persist(gen)
}
