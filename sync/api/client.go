package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	"github.com/stripe/stripe-go/v86"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxAttempts    = 4
	DefaultRetryAfterCap  = 30 * time.Second
	DefaultProbeTimeout   = 3 * time.Second
	DefaultUserAgent      = "Till/1 (+https://github.com/tillpos/till)"

	// MaxIdempotencyKeyLen is the longest idempotency key accepted, as
	// Stripe's.
	MaxIdempotencyKeyLen = 255
	// MaxResponseBytes bounds how much of an answer is read.
	MaxResponseBytes = 8 << 20
)

// Config configures a Client. BaseURL and Key are required.
//
// Config formats without its key (%v, %+v, %#v, JSON, slog), so a Config can
// be logged.
type Config struct {
	// BaseURL is the API root, e.g. "https://api.stripe.com" or the
	// sandbox's "http://127.0.0.1:12111". It must not carry user
	// information, a query or a fragment.
	BaseURL string
	// Key is the secret key, sent as "Authorization: Bearer". It never
	// appears in errors, logs or the formatted Client/Config.
	Key string
	// HTTPClient is the underlying client (optional). New uses a copy of
	// it: its Timeout is replaced by RequestTimeout and redirects are not
	// followed.
	HTTPClient *http.Client
	// RequestTimeout bounds each attempt, body included (default 10s).
	RequestTimeout time.Duration
	// MaxAttempts is the most attempts per call, ≥ 1 (default 4).
	MaxAttempts int
	// RetryAfterCap caps a server's Retry-After (default 30s).
	RetryAfterCap time.Duration
	// Backoff returns the wait before the next attempt, given the number of
	// attempts made so far (≥ 1) and the server's Retry-After already
	// capped at RetryAfterCap (0 if none). Default:
	// ExponentialBackoff(250ms, 5s).
	Backoff func(attempts int, retryAfter time.Duration) time.Duration
	// ProbeTimeout bounds Probe (default 3s).
	ProbeTimeout time.Duration
	// Logger receives one line per call (debug on success, warn on
	// failure) and the retry machinery's lines; never keys or bodies.
	// Nil discards.
	Logger *slog.Logger
	// Now is the clock used for elapsed times and HTTP-date Retry-After
	// values (default time.Now).
	Now func() time.Time
	// UserAgent is sent as User-Agent (default DefaultUserAgent).
	UserAgent string
}

// redactedKey shows a key's kind and last four characters, as Stripe's
// dashboard does: "sk_test_****4242".
func redactedKey(key string) string {
	if key == "" {
		return ""
	}
	prefix := ""
	for _, p := range []string{"sk_test_", "sk_live_", "rk_test_", "rk_live_"} {
		if strings.HasPrefix(key, p) {
			prefix = p
			break
		}
	}
	if len(key) >= len(prefix)+12 {
		return prefix + "****" + key[len(key)-4:]
	}
	return prefix + "****"
}

// String describes the Config with its key redacted.
func (c Config) String() string {
	return fmt.Sprintf("api.Config{BaseURL: %q, Key: %q, RequestTimeout: %s, MaxAttempts: %d, RetryAfterCap: %s}",
		c.BaseURL, redactedKey(c.Key), c.RequestTimeout, c.MaxAttempts, c.RetryAfterCap)
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q) print String.
func (c Config) Format(f fmt.State, verb rune) { formatString(f, verb, c.String()) }

// LogValue keeps the key out of slog output.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON keeps the key out of JSON output.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"base_url": c.BaseURL, "key": redactedKey(c.Key), "request_timeout": c.RequestTimeout.String(),
		"max_attempts": c.MaxAttempts, "retry_after_cap": c.RetryAfterCap.String(),
	})
}

func formatString(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s)
		return
	}
	io.WriteString(f, s)
}

// ExponentialBackoff returns a jittered exponential back-off: before
// attempt n+1 it waits a random duration in [d/2, d], d = base·2^(n-1)
// capped at max, and never less than the server's Retry-After.
func ExponentialBackoff(base, max time.Duration) func(attempts int, retryAfter time.Duration) time.Duration {
	return func(attempts int, retryAfter time.Duration) time.Duration {
		d := max
		if attempts < 1 {
			attempts = 1
		}
		if attempts <= 30 {
			if e := base << (attempts - 1); e > 0 && e < max {
				d = e
			}
		}
		if half := int64(d / 2); half > 0 {
			d = time.Duration(half + rand.Int64N(half+1))
		}
		return maxDuration(d, retryAfter)
	}
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Client calls the payment API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	key       string
	cfg       Config // with defaults, Key cleared
	rc        *retryablehttp.Client
	hc        *http.Client
	log       *slog.Logger
	userAgent string
}

// New checks cfg, applies defaults and builds a Client. Errors wrap
// ErrInvalidConfig and never contain the key.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: base URL does not parse", ErrInvalidConfig)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: base URL %q: scheme must be http or https", ErrInvalidConfig, u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("%w: base URL %q has no host", ErrInvalidConfig, u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("%w: base URL must not carry credentials", ErrInvalidConfig)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%w: base URL %q must not have a query or fragment", ErrInvalidConfig, u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if cfg.Key == "" {
		return nil, fmt.Errorf("%w: no API key", ErrInvalidConfig)
	}
	for _, r := range cfg.Key {
		if r <= ' ' || r >= 0x7f {
			return nil, fmt.Errorf("%w: API key %s contains a space or a non-printable character", ErrInvalidConfig, redactedKey(cfg.Key))
		}
	}
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("%w: MaxAttempts %d < 1", ErrInvalidConfig, cfg.MaxAttempts)
	}
	if cfg.RequestTimeout < 0 || cfg.RetryAfterCap < 0 || cfg.ProbeTimeout < 0 {
		return nil, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryAfterCap == 0 {
		cfg.RetryAfterCap = DefaultRetryAfterCap
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Backoff == nil {
		cfg.Backoff = ExponentialBackoff(250*time.Millisecond, 5*time.Second)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}

	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		hc.Transport = tr
	}
	hc.Timeout = cfg.RequestTimeout
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c := &Client{base: u, key: cfg.Key, hc: &hc, log: cfg.Logger, userAgent: cfg.UserAgent}
	cfg.Key = ""
	cfg.HTTPClient = nil
	c.cfg = cfg

	c.rc = &retryablehttp.Client{
		HTTPClient:     &hc,
		RetryMax:       cfg.MaxAttempts - 1,
		RequestLogHook: c.requestLogHook,
		CheckRetry:     c.checkRetry,
		Backoff:        c.backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
	}
	// retryablehttp's own lines (per attempt, debug and warn) go through a
	// redacting adapter, and only when someone listens: it formats URLs
	// even for a disabled logger.
	if cfg.Logger.Enabled(context.Background(), slog.LevelWarn) {
		c.rc.Logger = leveledLogger{l: cfg.Logger, redact: c.redact}
	}
	return c, nil
}

// String describes the client with its key redacted.
func (c *Client) String() string {
	return fmt.Sprintf("api.Client{BaseURL: %q, Key: %q}", c.base.String(), redactedKey(c.key))
}

// Format makes every fmt verb print String.
func (c *Client) Format(f fmt.State, verb rune) { formatString(f, verb, c.String()) }

// LogValue keeps the key out of slog output.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// CloseIdleConnections closes the keep-alive connections the client holds
// (for example when the app goes offline or shuts down).
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// BaseURL returns the configured API root.
func (c *Client) BaseURL() string { return c.base.String() }

// redact replaces the key wherever it occurs in s.
func (c *Client) redact(s string) string {
	if c.key == "" || !strings.Contains(s, c.key) {
		return s
	}
	return strings.ReplaceAll(s, c.key, redactedKey(c.key))
}

// redactBytes returns b with the key masked (a copy only when needed).
func (c *Client) redactBytes(b []byte) []byte {
	if c.key == "" || !bytes.Contains(b, []byte(c.key)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(c.key), []byte(redactedKey(c.key)))
}

// Response describes one call's exchange with the server.
type Response struct {
	// Method and Path of the request (no query string).
	Method string
	Path   string
	// StatusCode of the last answer.
	StatusCode int
	// RequestID is the answer's Request-Id.
	RequestID string
	// IdempotencyKey the POST was sent with ("" for GET).
	IdempotencyKey string
	// IdempotentReplayed: the answer is a saved answer replayed for the key.
	IdempotentReplayed bool
	// OriginalRequestID is the Original-Request header of a replay: the
	// request whose answer was saved.
	OriginalRequestID string
	// Attempts made, ≥ 1.
	Attempts int
	// Elapsed from the first attempt to the end of the call.
	Elapsed time.Duration
	// Object and ID of the answer's top-level JSON object ("payment_intent",
	// "pi_…"; "list", "").
	Object string
	ID     string
	// Body is the raw JSON answer.
	Body []byte

	header http.Header
}

// callState follows one call through retryablehttp's loop. The loop runs
// in the caller's goroutine, so no locking is needed.
type callState struct {
	method, path string
	maxAttempts  int
	attempts     int

	// the last attempt
	status int
	header http.Header
	body   []byte
	err    error // transport or body-read error

	mayHaveActed bool // some attempt may have been applied (POST)
	allUnsent    bool // every failed attempt failed before sending
}

type stateKey struct{}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	if st == nil {
		st = &callState{maxAttempts: 1}
	}
	return st
}

func (c *Client) requestLogHook(_ retryablehttp.Logger, req *http.Request, i int) {
	st := stateOf(req.Context())
	st.attempts = i + 1
	if i > 0 {
		c.log.LogAttrs(req.Context(), slog.LevelDebug, "api attempt",
			slog.String("op", st.method+" "+st.path), slog.Int("attempt", i+1))
	}
}

// checkRetry is the retry policy. It also buffers each answer's body so
// that the decision (409 codes) and the caller see the same bytes.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := stateOf(ctx)
	st.status, st.header, st.body, st.err = 0, nil, nil, err
	if err == nil && resp != nil {
		st.status, st.header = resp.StatusCode, resp.Header
		body, rerr := readBody(resp)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(nil))
		switch {
		case rerr != nil:
			st.err = fmt.Errorf("read response body: %w", rerr)
		case len(body) > MaxResponseBytes:
			st.err = fmt.Errorf("%w: body larger than %d bytes", ErrMalformedResponse, MaxResponseBytes)
			st.mayHaveActed = true
			return false, nil
		default:
			st.body = c.redactBytes(body) // a hostile peer may echo the key
		}
	}

	if st.err == nil {
		// A complete answer: it decides, even if the context just ended.
		st.allUnsent = false
		retry := answerRetryable(st.status, st.header, st.body)
		if answerMayHaveActed(st.status) {
			st.mayHaveActed = true
		}
		if ctx.Err() != nil {
			return false, nil
		}
		return retry && st.attempts < st.maxAttempts, nil
	}

	unsent := neverSent(st.err)
	if !unsent {
		st.mayHaveActed = true
		st.allUnsent = false
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if permanentTransportError(st.err) {
		return false, nil
	}
	return st.attempts < st.maxAttempts, nil
}

// readBody reads at most MaxResponseBytes+1 bytes of an answer, sized by
// its Content-Length when declared.
func readBody(resp *http.Response) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, max(512, min(resp.ContentLength+1, 64<<10))))
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxResponseBytes+1))
	return buf.Bytes(), err
}

// answerRetryable decides on a complete HTTP answer.
func answerRetryable(status int, h http.Header, body []byte) bool {
	switch h.Get("Stripe-Should-Retry") {
	case "false":
		return false
	case "true":
		return true
	}
	if h.Get("Idempotent-Replayed") == "true" {
		return false
	}
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case status == http.StatusConflict:
		code := errorCode(body)
		return code == "idempotency_key_in_use" || code == "lock_timeout"
	case status >= 500 && status != http.StatusNotImplemented:
		return true
	}
	return false
}

// answerMayHaveActed: only statuses decided before execution (429, 409
// conflicts) and 4xx refusals are known not to have acted. A 2xx acted by
// definition; a 5xx may have.
func answerMayHaveActed(status int) bool {
	return status < 400 || status >= 500
}

func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// neverSent reports a failure that happened before the request could leave:
// dialing (refused, unreachable, DNS) or a TLS certificate refusal.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return permanentTransportError(err)
}

func permanentTransportError(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &cie)
}

func (c *Client) backoff(_, _ time.Duration, attemptNum int, resp *http.Response) time.Duration {
	var ra time.Duration
	if resp != nil {
		ra = c.retryAfter(resp.Header.Get("Retry-After"))
	}
	return c.cfg.Backoff(attemptNum+1, ra)
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped
// at RetryAfterCap; 0 when absent or unparseable.
func (c *Client) retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		if strings.HasPrefix(strings.TrimSpace(v), "-") {
			return 0
		}
		return c.cfg.RetryAfterCap
	}
	if err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(c.cfg.RetryAfterCap/time.Second)+1 {
			return c.cfg.RetryAfterCap
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(c.cfg.Now())
		if d < 0 {
			return 0
		}
	} else {
		return 0
	}
	return min(d, c.cfg.RetryAfterCap)
}

// do performs one call. body is the form-encoded body (POST) or query (GET).
func (c *Client) do(ctx context.Context, method, path string, body []byte, idemKey string, maxAttempts int, timeout time.Duration) (*Response, error) {
	op := method + " " + path
	if method == http.MethodPost {
		if err := checkIdempotencyKey(idemKey); err != nil {
			return nil, &Error{Op: op, Class: Permanent, detail: err.Error(), cause: err}
		}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	st := &callState{method: method, path: path, maxAttempts: maxAttempts, allUnsent: true}
	ctx = context.WithValue(ctx, stateKey{}, st)

	u := *c.base
	u.Path += path
	var rawBody any
	if method == http.MethodPost {
		rawBody = body
	} else {
		u.RawQuery = string(body)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), rawBody)
	if err != nil {
		return nil, &Error{Op: op, Class: Permanent, detail: c.redact(err.Error()), cause: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Stripe-Version", stripe.APIVersion)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", idemKey)
	}

	start := c.cfg.Now()
	resp, doErr := c.rc.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	elapsed := c.cfg.Now().Sub(start)

	r := &Response{Method: method, Path: path, IdempotencyKey: idemKey, Attempts: st.attempts, Elapsed: elapsed}
	complete := st.err == nil && st.header != nil
	if complete {
		r.StatusCode = st.status
		r.RequestID = c.redact(st.header.Get("Request-Id"))
		r.IdempotentReplayed = st.header.Get("Idempotent-Replayed") == "true"
		r.OriginalRequestID = c.redact(st.header.Get("Original-Request"))
		r.Body = st.body
		r.header = st.header
	}

	if complete && st.status >= 200 && st.status < 300 {
		if err := r.parseEnvelope(); err != nil {
			return r, c.fail(ctx, r, st, err)
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "api call", slog.String("op", op), slog.Int("status", r.StatusCode),
			slog.Int("attempts", r.Attempts), slog.String("request_id", r.RequestID), slog.Bool("replayed", r.IdempotentReplayed))
		return r, nil
	}
	cause := st.err
	if doErr != nil && (cause == nil || !errors.Is(cause, doErr)) {
		cause = doErr // the context ended during a wait, or before sending
	}
	return r, c.fail(ctx, r, st, cause)
}

// parseEnvelope checks that a 2xx body opens a JSON object with a
// non-empty "object" member and records its object and id. It reads only
// as far as both members (Stripe sends them first), so a fault later in the
// body surfaces when the body is decoded (Decode, the typed calls).
func (r *Response) parseEnvelope() error {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: not a JSON object", ErrMalformedResponse)
	}
	var object, id string
	for dec.More() && (object == "" || id == "") {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %s", ErrMalformedResponse, jsonProblem(err))
		}
		key, _ := tok.(string)
		switch key {
		case "object", "id":
			var v *string
			if err := dec.Decode(&v); err != nil {
				return fmt.Errorf("%w: member %q: %s", ErrMalformedResponse, key, jsonProblem(err))
			}
			if v == nil {
				continue
			}
			if key == "object" {
				object = *v
			} else {
				id = *v
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("%w: member %q: %s", ErrMalformedResponse, key, jsonProblem(err))
			}
		}
	}
	if object == "" {
		return fmt.Errorf("%w: no \"object\" member", ErrMalformedResponse)
	}
	r.Object, r.ID = object, id
	return nil
}

// Decode unmarshals the body of a successful answer into v (for example a
// *stripe.PaymentIntent after Post). A body that does not decode is an
// *Error wrapping ErrMalformedResponse, Indeterminate for a POST (the
// server acted but its answer is unusable) and Transient for a GET.
func (r *Response) Decode(v any) error {
	err := json.Unmarshal(r.Body, v)
	if err == nil {
		return nil
	}
	cause := fmt.Errorf("%w: %s", ErrMalformedResponse, jsonProblem(err))
	class := Transient
	if r.Method == http.MethodPost {
		class = Indeterminate
	}
	return &Error{
		Op: r.Method + " " + r.Path, Class: class, HTTPStatus: r.StatusCode, RequestID: r.RequestID,
		IdempotencyKey: r.IdempotencyKey, IdempotentReplayed: r.IdempotentReplayed, Attempts: r.Attempts,
		Elapsed: r.Elapsed, Body: r.Body, detail: cause.Error(), cause: cause,
	}
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("JSON %s where %s expected (field %q)", te.Value, te.Type, te.Field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return "invalid JSON: " + err.Error()
}

// fail builds the *Error of a call, classifies it and logs it.
func (c *Client) fail(ctx context.Context, r *Response, st *callState, cause error) *Error {
	e := &Error{
		Op: r.Method + " " + r.Path, HTTPStatus: r.StatusCode, RequestID: r.RequestID,
		IdempotencyKey: r.IdempotencyKey, IdempotentReplayed: r.IdempotentReplayed,
		Attempts: r.Attempts, Elapsed: r.Elapsed, Body: r.Body, cause: cause,
	}
	if cause != nil {
		e.detail = c.redact(safeErrString(cause))
	}
	if r.StatusCode != 0 {
		e.ShouldRetry = r.header.Get("Stripe-Should-Retry")
		if r.StatusCode >= 300 {
			c.parseErrorBody(e)
		}
	}
	e.Class = classify(r.Method, r.StatusCode, e, st)
	c.log.LogAttrs(ctx, slog.LevelWarn, "api call failed", slog.String("op", e.Op), slog.String("class", e.Class.String()),
		slog.Int("status", e.HTTPStatus), slog.Int("attempts", e.Attempts), slog.String("request_id", e.RequestID),
		slog.Bool("replayed", e.IdempotentReplayed), slog.String("error", e.Error()))
	return e
}

// parseErrorBody fills Stripe's error object into e. A body that is not an
// error object leaves a short description in Message.
func (c *Client) parseErrorBody(e *Error) {
	var env struct {
		Error *stripe.Error `json:"error"`
	}
	if err := json.Unmarshal(e.Body, &env); err != nil || env.Error == nil {
		e.Message = "no Stripe error object in the answer"
		if len(e.Body) == 0 {
			e.Message = "empty answer"
		}
		return
	}
	se := env.Error
	e.Type, e.Code, e.DeclineCode, e.Param = se.Type, se.Code, se.DeclineCode, se.Param
	e.Message = c.redact(se.Msg)
	e.PaymentIntent = se.PaymentIntent
}

// classify applies the table of the package documentation.
func classify(method string, status int, e *Error, st *callState) Class {
	post := method == http.MethodPost
	unsure := Transient
	if post {
		unsure = Indeterminate
	}
	switch {
	case errors.Is(e.cause, ErrInvalidIdempotencyKey):
		return Permanent
	case status == 0:
		if permanentTransportError(e.cause) {
			return Permanent
		}
		if !post || (!st.mayHaveActed && st.allUnsent) {
			return Transient
		}
		return Indeterminate
	case e.Type == stripe.ErrorTypeCard:
		return Declined
	case status >= 200 && status < 300:
		return unsure // malformed success
	case status == http.StatusTooManyRequests, status == http.StatusConflict && (e.Code == "idempotency_key_in_use" || e.Code == "lock_timeout"),
		status >= 400 && status < 500 && e.ShouldRetry == "true":
		if post && st.mayHaveActed {
			return Indeterminate
		}
		return Transient
	case status >= 400 && status < 500:
		return Permanent
	}
	return unsure // 5xx, 1xx, 3xx
}

// safeErrString describes a transport error without the request URL (it
// may carry a query string with customer data).
func safeErrString(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

func checkIdempotencyKey(k string) error {
	if k == "" {
		return fmt.Errorf("%w: empty", ErrInvalidIdempotencyKey)
	}
	if len(k) > MaxIdempotencyKeyLen {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidIdempotencyKey, len(k), MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] >= 0x7f {
			return fmt.Errorf("%w: byte %d is not printable ASCII", ErrInvalidIdempotencyKey, i)
		}
	}
	return nil
}

// Post sends a form-encoded body, already encoded (with stripe-go's form
// package), to path (e.g. "/v1/payment_intents/pi_1/capture") with the
// given idempotency key. It is what the outbox drainer uses. A 2xx answer
// that does not open a JSON object with an "object" member is an error
// wrapping ErrMalformedResponse; decode the body with Response.Decode, which
// classifies a body that fails further on. The Response is returned
// whenever the server answered, also alongside an error.
func (c *Client) Post(ctx context.Context, path string, formBody []byte, idemKey string) (*Response, error) {
	if err := checkPath(path); err != nil {
		return nil, &Error{Op: "POST " + path, Class: Permanent, detail: err.Error(), cause: err}
	}
	return c.do(ctx, http.MethodPost, path, formBody, idemKey, c.cfg.MaxAttempts, 0)
}

// Get sends a GET with an already encoded query string.
func (c *Client) Get(ctx context.Context, path string, query []byte) (*Response, error) {
	if err := checkPath(path); err != nil {
		return nil, &Error{Op: "GET " + path, Class: Permanent, detail: err.Error(), cause: err}
	}
	return c.do(ctx, http.MethodGet, path, query, "", c.cfg.MaxAttempts, 0)
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/v1/") || strings.ContainsAny(p, "?#") || strings.Contains(p, "..") {
		return fmt.Errorf("%w: path %q must start with /v1/ and have no query", ErrInvalidConfig, p)
	}
	return nil
}

// Probe is a cheap connectivity check: one attempt of GET
// /v1/payment_intents?limit=1 bounded by ProbeTimeout. It returns nil when
// the API answered 2xx, or a classified *Error (Transient when unreachable,
// Permanent for a rejected key).
func (c *Client) Probe(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/v1/payment_intents", []byte("limit=1"), "", 1, c.cfg.ProbeTimeout)
	return err
}
