package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// epoch is the base time of every test sandbox; tests move the sandbox
// clock with Advance, never by waiting.
var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return epoch }

type tclient struct {
	t   testing.TB
	srv *sandboxtest.Server
	key string
	hc  *http.Client
}

func newSandbox(t testing.TB, opts sandbox.Options) *tclient {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	srv := sandboxtest.New(t, opts)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &tclient{t: t, srv: srv, key: srv.Key, hc: hc}
}

type resp struct {
	t      testing.TB
	status int
	header http.Header
	body   []byte
	m      map[string]any
}

// do sends a request; form is already encoded ("a=1&b[c]=2"); extra are
// header name/value pairs.
func (c *tclient) do(method, path, form string, extra ...string) *resp {
	c.t.Helper()
	var body io.Reader
	u := c.srv.URL + path
	if method == http.MethodGet && form != "" {
		u += "?" + form
	} else if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := &resp{t: c.t, status: res.StatusCode, header: res.Header, body: b}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.m); err != nil {
			c.t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, b)
		}
	}
	return r
}

func (c *tclient) post(path, form string, extra ...string) *resp {
	c.t.Helper()
	return c.do(http.MethodPost, path, form, extra...)
}

func (c *tclient) get(path, query string) *resp {
	c.t.Helper()
	return c.do(http.MethodGet, path, query)
}

// ok asserts a 200 and returns the response.
func (r *resp) ok() *resp {
	r.t.Helper()
	if r.status != http.StatusOK {
		r.t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	return r
}

// wantError asserts an error answer with the given status, type and code.
func (r *resp) wantError(status int, typ, code string) *resp {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if got := r.s("error.type"); got != typ {
		r.t.Fatalf("error.type %q, want %q: %s", got, typ, r.body)
	}
	if got := r.s("error.code"); got != code {
		r.t.Fatalf("error.code %q, want %q: %s", got, code, r.body)
	}
	if r.s("error.message") == "" {
		r.t.Fatalf("error without message: %s", r.body)
	}
	return r
}

// get walks a dotted path (numbers index arrays).
func (r *resp) get(path string) any {
	var cur any = r.m
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[part]
		case []any:
			i := 0
			for _, ch := range part {
				i = i*10 + int(ch-'0')
			}
			if i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	return cur
}

func (r *resp) s(path string) string {
	v, _ := r.get(path).(string)
	return v
}

func (r *resp) n(path string) int64 {
	v, _ := r.get(path).(float64)
	return int64(v)
}

func (r *resp) isNull(path string) bool { return r.get(path) == nil }

func (r *resp) list() []any {
	v, _ := r.get("data").([]any)
	return v
}

func (r *resp) ids() []string {
	var out []string
	for _, it := range r.list() {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

func (r *resp) want(path, value string) *resp {
	r.t.Helper()
	if got := r.s(path); got != value {
		r.t.Fatalf("%s = %q, want %q: %s", path, got, value, r.body)
	}
	return r
}

func form(kv ...string) string {
	v := url.Values{}
	var keys []string
	for i := 0; i+1 < len(kv); i += 2 {
		if !v.Has(kv[i]) {
			keys = append(keys, kv[i])
		}
		v.Add(kv[i], kv[i+1])
	}
	var b strings.Builder
	for _, k := range keys {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(val))
		}
	}
	return b.String()
}

// newReaderIntent creates a card_present PaymentIntent.
func (c *tclient) newReaderIntent(amount int64, capture string, extra ...string) *resp {
	c.t.Helper()
	kv := append([]string{"amount", itoa(amount), "currency", "usd", "payment_method_types[]", "card_present", "capture_method", capture}, extra...)
	return c.post("/v1/payment_intents", form(kv...)).ok()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// eventTypes lists event types for a PaymentIntent, oldest first.
func (c *tclient) eventTypes(piID string) []string {
	c.t.Helper()
	r := c.get("/v1/events", "limit=100").ok()
	var out []string
	for _, it := range r.list() {
		e := it.(map[string]any)
		obj := e["data"].(map[string]any)["object"].(map[string]any)
		if obj["id"] == piID {
			out = append([]string{e["type"].(string)}, out...)
		}
	}
	return out
}

func (c *tclient) advance(d time.Duration) {
	c.t.Helper()
	c.srv.AdvanceClock(c.t, d)
}

func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// serverAt wraps a bare URL for tests that run a sandbox by hand.
func serverAt(url string) *sandboxtest.Server { return &sandboxtest.Server{URL: url} }
