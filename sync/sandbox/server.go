package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable: real time, any
// sk_test_ key, Stripe's default windows.
type Options struct {
	// Keys are the accepted secret keys. Empty means any key that starts
	// with "sk_test_" is accepted (each key still has its own idempotency
	// scope).
	Keys []string
	// Now is the base time source; the control endpoint moves the sandbox
	// clock relative to it. Defaults to time.Now.
	Now func() time.Time
	// IdempotencyTTL is how long a saved idempotent response is kept
	// (default 24h).
	IdempotencyTTL time.Duration
	// AuthExpiry is how long a card_present / interac_present authorisation
	// can be captured (default 48h, reported as capture_before). Online
	// card and wallet authorisations use CardAuthExpiry.
	AuthExpiry time.Duration
	// CardAuthExpiry is the capture window of online card and MobilePay
	// authorisations (default 7 days).
	CardAuthExpiry time.Duration
	// ActionTimeout is how long a card that needs authentication may stay
	// unconfirmed after the attempt (default 1h, seed 004).
	ActionTimeout time.Duration
	// MobilePayTimeout is MobilePay's authorisation window (default 5m).
	MobilePayTimeout time.Duration
	// ProcessingDelay is how long a SEPA Direct Debit payment stays in
	// processing before it settles (default 1m).
	ProcessingDelay time.Duration
	// Seed makes generated ids and the default fault seed reproducible.
	// Zero means random ids.
	Seed int64
	// Logger receives one line per request (never keys, bodies or card
	// data). Defaults to discarding.
	Logger *slog.Logger
	// DataFile, when set, persists the state in a bbolt file, loaded by
	// New: every request that changed something has its changes committed
	// to the file before it is answered (see persist.go).
	DataFile string
	// PublicURL overrides the base URL put into redirect links (useful when
	// a phone on the LAN must reach the wallet page). Defaults to the Host
	// the request came in on.
	PublicURL string
	// MaxLatency bounds injected latency (default 10s).
	MaxLatency time.Duration
}

func (o *Options) defaults() {
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = 24 * time.Hour
	}
	if o.AuthExpiry <= 0 {
		o.AuthExpiry = 48 * time.Hour
	}
	if o.CardAuthExpiry <= 0 {
		o.CardAuthExpiry = 7 * 24 * time.Hour
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = time.Hour
	}
	if o.MobilePayTimeout <= 0 {
		o.MobilePayTimeout = 5 * time.Minute
	}
	if o.ProcessingDelay <= 0 {
		o.ProcessingDelay = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxLatency <= 0 {
		o.MaxLatency = 10 * time.Second
	}
	o.PublicURL = strings.TrimSuffix(o.PublicURL, "/")
}

// Server is the sandbox. It is an http.Handler; Start runs it on a
// listener of its own.
type Server struct {
	opts   Options
	clock  *clock
	ids    *idGen
	mux    *http.ServeMux
	faults *faultSet
	store  *persister

	mu      sync.Mutex // guards st, dirty, gen, touched, pending
	st      *state
	dirty   bool
	gen     uint64
	touched map[touchKey]struct{}
	pending delta

	srvMu   sync.Mutex
	httpSrv *http.Server
	baseURL string
	closed  bool
	active  map[net.Conn]struct{} // connections with a request in flight
}

// New builds a Server. With Options.DataFile it loads the data file if it
// exists; a corrupt file is an error wrapping ErrCorruptData and is
// never overwritten.
func New(opts Options) (*Server, error) {
	opts.defaults()
	s := &Server{
		opts:  opts,
		clock: newClock(opts.Now),
		ids:   newIDGen(opts.Seed),
		st:    newState(),
	}
	s.faults = newFaultSet(opts.Seed)
	if opts.DataFile != "" {
		db, st, err := openData(opts.DataFile)
		if err != nil {
			return nil, fmt.Errorf("sandbox: open %s: %w", opts.DataFile, err)
		}
		s.st = st
		s.clock.setOffset(st.ClockOffset)
		s.touched = map[touchKey]struct{}{}
		s.store = newPersister(db, s.takePending, s.restorePending, opts.Logger)
	}
	s.routes()
	return s, nil
}

type handlerFunc func(s *Server, rc *reqCtx) (any, *apiError)

// reqCtx is what a handler sees.
type reqCtx struct {
	r         *http.Request
	p         *params
	form      *formNode
	now       int64
	requestID string
	idemKey   string
	base      string
	id        string
}

type response struct {
	status int
	body   []byte
	save   bool
}

func (s *Server) routes() {
	m := http.NewServeMux()
	api := func(pattern string, h handlerFunc) { m.HandleFunc(pattern, s.api(pattern, h)) }
	api("POST /v1/payment_intents", (*Server).createIntent)
	api("GET /v1/payment_intents", (*Server).listIntents)
	api("GET /v1/payment_intents/search", (*Server).searchIntents)
	api("GET /v1/payment_intents/{id}", (*Server).retrieveIntent)
	api("POST /v1/payment_intents/{id}", (*Server).updateIntent)
	api("POST /v1/payment_intents/{id}/confirm", (*Server).confirmIntent)
	api("POST /v1/payment_intents/{id}/capture", (*Server).captureIntent)
	api("POST /v1/payment_intents/{id}/cancel", (*Server).cancelIntent)
	api("POST /v1/test_helpers/payment_intents/{id}/present_payment_method", (*Server).presentPaymentMethod)
	api("POST /v1/customers", (*Server).createCustomer)
	api("GET /v1/customers", (*Server).listCustomers)
	api("GET /v1/customers/search", (*Server).searchCustomers)
	api("GET /v1/customers/{id}", (*Server).retrieveCustomer)
	api("POST /v1/customers/{id}", (*Server).updateCustomer)
	api("GET /v1/customers/{id}/payment_methods", (*Server).listCustomerPaymentMethods)
	api("POST /v1/payment_methods", (*Server).createPaymentMethod)
	api("GET /v1/payment_methods/{id}", (*Server).retrievePaymentMethod)
	api("POST /v1/payment_methods/{id}/attach", (*Server).attachPaymentMethod)
	api("POST /v1/payment_methods/{id}/detach", (*Server).detachPaymentMethod)
	api("POST /v1/customer_sessions", (*Server).createCustomerSession)
	api("GET /v1/charges/{id}", (*Server).retrieveCharge)
	api("POST /v1/refunds", (*Server).createRefund)
	api("GET /v1/refunds", (*Server).listRefunds)
	api("GET /v1/refunds/{id}", (*Server).retrieveRefund)
	api("GET /v1/events", (*Server).listEvents)
	api("GET /v1/events/{id}", (*Server).retrieveEvent)

	m.HandleFunc("GET /pm-redirects/authorize/{nonce}", s.redirectPage)
	m.HandleFunc("POST /pm-redirects/authorize/{nonce}", s.redirectAction)

	m.HandleFunc("/_sandbox/clock", s.control(s.controlClock))
	m.HandleFunc("/_sandbox/reset", s.control(s.controlReset))
	m.HandleFunc("/_sandbox/faults", s.control(s.controlFaults))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newRequestID(s), &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest,
			Message: fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", r.Method, r.URL.Path)})
	})
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func newRequestID(s *Server) string { return "req_" + s.ids.token(14) }

// api wraps a handler in the Stripe request pipeline: authentication, body
// limits and decoding, fault injection, idempotency, the state lock,
// persistence and logging.
func (s *Server) api(pattern string, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := newRequestID(s)
		status, note := s.serveAPI(w, r, reqID, h)
		s.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", pattern),
			slog.Int("status", status), slog.String("request_id", reqID), slog.String("note", note),
			slog.Duration("took", time.Since(start)))
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, reqID string, h handlerFunc) (int, string) {
	apiKey, aerr := s.authenticate(r)
	if aerr != nil {
		return s.writeError(w, r, reqID, aerr), "auth"
	}
	form, aerr := readForm(w, r)
	if aerr != nil {
		return s.writeError(w, r, reqID, aerr), "form"
	}

	fault := s.faults.pick(r.Method, r.URL.Path, false)
	if fault.kind == FaultRateLimit {
		w.Header().Set("Retry-After", strconv.Itoa(fault.retryAfter))
		return s.writeError(w, r, reqID, &apiError{Status: http.StatusTooManyRequests, Type: typeInvalidRequest, Code: "rate_limit",
			Message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits. (sandbox fault injection)"}), "fault 429"
	}

	var idemKey, scoped, fp string
	if r.Method == http.MethodPost {
		idemKey = r.Header.Get("Idempotency-Key")
		if len(idemKey) > maxIdempotencyKeyLen {
			return s.writeError(w, r, reqID, invalid("", "", "Idempotency-Key must be at most %d characters long.", maxIdempotencyKeyLen)), "idem"
		}
	}
	rc := &reqCtx{r: r, form: form, p: newParams(form), requestID: reqID, idemKey: idemKey, base: s.baseFor(r), id: r.PathValue("id")}

	if idemKey != "" {
		scoped = scopeOf(apiKey) + ":" + idemKey
		fp = fingerprint(r.Method, r.URL.Path, form)
		s.mu.Lock()
		outcome, rec, cerr := s.idemBegin(scoped, fp, idemKey, s.clock.Now().Unix())
		s.mu.Unlock()
		switch outcome {
		case idemConflict:
			return s.writeError(w, r, reqID, cerr), "idempotency conflict"
		case idemReplay:
			// The saved answer may belong to a request whose changes are
			// not in the data file yet (its write failed): replay it only
			// once they are.
			if err := s.persistAll(); err != nil {
				return s.writeError(w, r, reqID, persistFailure()), "data file write failed"
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Original-Request", rec.RequestID)
			s.writeRaw(w, reqID, idemKey, rec.Status, rec.Body)
			return rec.Status, "replayed"
		}
	}

	exec := s.faults.pick(r.Method, r.URL.Path, true)
	fault.kind = exec.kind
	fault.latency += exec.latency
	if fault.latency > 0 {
		if err := sleepCtx(r.Context(), min(fault.latency, s.opts.MaxLatency)); err != nil {
			if idemKey != "" {
				s.mu.Lock()
				s.idemFinish(scoped, fp, reqID, 0, nil)
				s.mu.Unlock()
			}
			return 499, "client gone during injected latency"
		}
	}

	resp, gen := s.execute(r, rc, h, fault.kind, scoped, fp)

	if err := s.persist(gen); err != nil {
		// The change stays applied in memory and pending for the next
		// write. This 500 is not saved for the idempotency key: the key
		// keeps the handler's answer, replayed once it is in the file.
		return s.writeError(w, r, reqID, persistFailure()), "data file write failed"
	}
	if fault.kind == FaultDropAfterCommit && resp.save {
		dropConnection(w)
		return resp.status, "fault drop after commit"
	}
	s.writeRaw(w, reqID, idemKey, resp.status, resp.body)
	note := ""
	if fault.kind != FaultNone {
		note = "fault " + string(fault.kind)
	}
	return resp.status, note
}

// execute runs a handler under the state lock: due timers first, then the
// handler (or the before-commit fault), the idempotency record, and the
// delta to persist. A panicking handler becomes a 500 api_error (and a log
// line) instead of a dead connection and a lock held forever.
func (s *Server) execute(r *http.Request, rc *reqCtx, h handlerFunc, fault FaultKind, scoped, fp string) (resp response, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now().Unix()
	rc.now = now
	defer func() {
		if v := recover(); v != nil {
			s.opts.Logger.Error("sandbox: handler panic", slog.String("path", r.URL.Path), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			resp = s.errorResponse(rc.requestID, &apiError{Status: http.StatusInternalServerError, Type: typeAPI, Message: "An unknown error occurred in the sandbox."})
			if rc.idemKey != "" {
				s.idemFinish(scoped, fp, rc.requestID, now, nil)
			}
			s.dirty = true
			gen = s.bump()
		}
	}()
	s.tick(now)
	if fault == FaultErrorBeforeCommit {
		resp = s.errorResponse(rc.requestID, apiFailure())
	} else {
		obj, herr := h(s, rc)
		if herr == nil {
			herr = rc.p.done() // only reached when the handler did not check
		}
		if herr != nil {
			resp = s.errorResponse(rc.requestID, herr)
		} else {
			resp = response{status: http.StatusOK, body: mustJSON(obj), save: true}
		}
		if r.Method == http.MethodPost && resp.status < 500 && resp.save {
			s.dirty = true
			s.touchID(rc.id)
		}
		if fault == FaultErrorAfterCommit && resp.save {
			resp = s.errorResponse(rc.requestID, apiFailure())
		}
	}
	if rc.idemKey != "" {
		s.idemFinish(scoped, fp, rc.requestID, now, &resp)
	}
	return resp, s.bump()
}

// errorResponse renders an apiError (with its PaymentIntent, if any).
// Called with s.mu held.
func (s *Server) errorResponse(reqID string, e *apiError) response {
	ej := errorJSON{Type: e.Type, Code: e.Code, DeclineCode: e.DeclineCode, Message: e.Message, Param: e.Param, Charge: e.ChargeID, DocURL: docURL(e.Code)}
	if e.PaymentIntentID != "" {
		if pi := s.st.Intents[e.PaymentIntentID]; pi != nil {
			ej.PaymentIntent = s.renderIntent(pi, nil)
		}
	}
	if e.PaymentMethodID != "" {
		if pm := s.st.PMs[e.PaymentMethodID]; pm != nil {
			ej.PaymentMethod = renderPM(pm)
		}
	}
	ej.RequestLogURL = "https://dashboard.stripe.com/test/logs/" + reqID
	return response{status: e.Status, body: mustJSON(map[string]any{"error": ej}), save: e.save}
}

// writeError writes an error that needs no state (auth, form, routing).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, e *apiError) int {
	s.mu.Lock()
	resp := s.errorResponse(reqID, e)
	s.mu.Unlock()
	s.writeRaw(w, reqID, r.Header.Get("Idempotency-Key"), resp.status, resp.body)
	return resp.status
}

func (s *Server) writeRaw(w http.ResponseWriter, reqID, idemKey string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", reqID)
	h.Set("Stripe-Version", apiVersion)
	h.Set("Cache-Control", "no-cache, no-store")
	if idemKey != "" && len(idemKey) <= maxIdempotencyKeyLen {
		h.Set("Idempotency-Key", idemKey)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sandbox: marshal response: " + err.Error())
	}
	return append(b, '\n')
}

func (s *Server) baseFor(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	return "http://" + r.Host
}

// authenticate checks Bearer or Basic (key as user) credentials.
func (s *Server) authenticate(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	var key string
	switch {
	case strings.HasPrefix(h, "Bearer "):
		key = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	case strings.HasPrefix(h, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(h, "Basic ")))
		if err == nil {
			key, _, _ = strings.Cut(string(raw), ":")
		}
	}
	if key == "" {
		return "", &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest,
			Message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."}
	}
	if !s.keyAllowed(key) {
		return "", &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest,
			Message: "Invalid API Key provided: " + maskKey(key)}
	}
	return key, nil
}

func (s *Server) keyAllowed(key string) bool {
	if len(s.opts.Keys) == 0 {
		return strings.HasPrefix(key, "sk_test_") && len(key) > len("sk_test_")
	}
	for _, k := range s.opts.Keys {
		if k == key {
			return true
		}
	}
	return false
}

// maskKey shows a key the way Stripe does in its 401 message: the prefix
// and the last four characters.
func maskKey(k string) string {
	if len(k) <= 12 {
		return strings.Repeat("*", len(k))
	}
	return k[:8] + strings.Repeat("*", len(k)-12) + k[len(k)-4:]
}

// readForm reads and decodes the parameters: the query string for GET,
// the form body (plus any query string) for POST.
func readForm(w http.ResponseWriter, r *http.Request) (*formNode, *apiError) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest,
					Message: fmt.Sprintf("Request body too large: the limit is %d bytes.", MaxBodyBytes)}
			}
			return nil, invalid("", "", "Invalid request: could not read the request body.")
		}
		if len(body) > 0 {
			ct := r.Header.Get("Content-Type")
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt != "application/x-www-form-urlencoded" {
				return nil, invalid("", "", "Invalid request: unsupported Content-Type %s. If error persists and you need assistance, please contact support@stripe.com.", truncate(ct, 80))
			}
			if raw != "" {
				raw = string(body) + "&" + raw
			} else {
				raw = string(body)
			}
		}
	}
	form, err := decodeForm(raw)
	if err != nil {
		return nil, invalid("", "", "Invalid request: %v", err)
	}
	return form, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dropConnection closes the connection without a response: the request was
// committed but the client never learns the outcome.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset rather than a clean FIN
	}
	_ = conn.Close()
}

// Start listens on addr and serves in the background. It returns the base
// URL, e.g. "http://127.0.0.1:12111".
func (s *Server) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if s.httpSrv != nil {
		return s.baseURL, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	s.active = map[net.Conn]struct{}{}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, state http.ConnState) {
			s.srvMu.Lock()
			defer s.srvMu.Unlock()
			if state == http.StateActive {
				s.active[c] = struct{}{}
			} else {
				delete(s.active, c)
			}
		}}
	s.baseURL = "http://" + ln.Addr().String()
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s.baseURL, nil
}

// StartLoopback starts on a free port of 127.0.0.1.
func (s *Server) StartLoopback() (string, error) { return s.Start("127.0.0.1:0") }

// URL is the base URL after Start, or "".
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.baseURL
}

// Shutdown stops serving gracefully: requests in flight finish (until ctx
// ends, after which their connections are cut and the error says so), idle
// connections are closed at once, and the data file is flushed and closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.srvMu.Lock()
	srv := s.httpSrv
	s.closed = true
	busy := len(s.active)
	s.srvMu.Unlock()
	var err error
	if srv != nil {
		// http.Server.Shutdown waits up to five seconds for connections
		// that were opened but never sent a request; with nothing in
		// flight there is nothing to wait for.
		if busy == 0 {
			err = srv.Close()
		} else if err = srv.Shutdown(ctx); err != nil {
			s.srvMu.Lock()
			cut := len(s.active)
			s.srvMu.Unlock()
			cerr := srv.Close()
			if cut == 0 {
				err = cerr
			} else {
				err = fmt.Errorf("sandbox: shutdown cut %d requests in flight: %w", cut, err)
			}
		}
	}
	if s.store != nil {
		s.mu.Lock()
		gen := s.gen
		s.mu.Unlock()
		err = errors.Join(err, s.store.close(gen))
	}
	return err
}

// Close is Shutdown with a five-second grace period.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}
