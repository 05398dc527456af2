package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
)

// The wallet (TWINT, MobilePay) and card-authentication pages. Stripe sends
// the customer to next_action.redirect_to_url.url; here that URL is on the
// sandbox and shows "Authorize test payment" and "Fail test payment". Each
// button is a plain POST form, so a test can call it with
// POST /pm-redirects/authorize/{nonce} and action=authorize|fail. The
// answer is a 303 to return_url with payment_intent,
// payment_intent_client_secret and redirect_status appended.

var redirectTmpl = template.Must(template.New("redirect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Till sandbox — {{.Title}}</title>
<style>body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}button{font-size:1.1rem;padding:.6rem 1rem;margin:.3rem}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>Test payment <code>{{.ID}}</code>: <strong>{{.Amount}}</strong></p>
{{if .Pending}}
<form method="post"><input type="hidden" name="action" value="authorize"><button type="submit">Authorize test payment</button></form>
<form method="post"><input type="hidden" name="action" value="fail"><button type="submit">Fail test payment</button></form>
{{else}}
<p>This payment is no longer waiting for the customer (status: {{.Status}}).</p>
{{end}}
</body></html>
`))

type redirectView struct {
	Title, ID, Amount, Status string
	Pending                   bool
}

func (s *Server) redirectTarget(nonce string) *intentRec {
	id, ok := s.st.nonces[nonce]
	if !ok {
		return nil
	}
	return s.st.Intents[id]
}

func pendingCustomerAction(pi *intentRec) bool {
	return pi.Status == statusRequiresAction && pi.NextAction != nil
}

func (s *Server) redirectPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.clock.Now().Unix()
	s.tick(now)
	pi := s.redirectTarget(r.PathValue("nonce"))
	var view redirectView
	if pi != nil {
		view = redirectView{ID: pi.ID, Amount: formatAmount(pi.Amount, pi.Currency), Status: pi.Status, Pending: pendingCustomerAction(pi)}
		view.Title = "Authenticate your payment"
		if pm := s.st.PMs[pi.PaymentMethod]; pm != nil && pi.ActionKind == actionRedirect {
			view.Title = map[string]string{"twint": "TWINT", "mobilepay": "MobilePay"}[pm.Type] + " test payment page"
		}
	}
	gen := s.bump()
	s.mu.Unlock()
	if err := s.persist(gen); err != nil {
		http.Error(w, "The sandbox could not write its data file.", http.StatusInternalServerError)
		return
	}
	if pi == nil {
		http.Error(w, "Unknown or expired test payment page.", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = redirectTmpl.Execute(w, view)
}

func (s *Server) redirectAction(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad form.", http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("action")
	if action != "authorize" && action != "fail" {
		http.Error(w, "action must be authorize or fail.", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	now := s.clock.Now().Unix()
	s.tick(now)
	pi := s.redirectTarget(r.PathValue("nonce"))
	if pi == nil {
		s.mu.Unlock()
		http.Error(w, "Unknown or expired test payment page.", http.StatusNotFound)
		return
	}
	rc := &reqCtx{r: r, now: now, requestID: newRequestID(s), base: s.baseFor(r)}
	outcome := "failed"
	if pendingCustomerAction(pi) {
		pm := s.st.PMs[pi.PaymentMethod]
		prev := pi.Status
		switch {
		case action == "fail":
			s.failAttempt(rc, pi, typeInvalidRequest, "payment_intent_authentication_failure", "", authFailureMessage, now)
		case pi.ActionKind == actionThreeDS:
			// Seed 004: after authentication the PaymentIntent waits in
			// requires_confirmation for the server to confirm it again,
			// still within the one-hour window.
			pi.NextAction = nil
			pi.Authenticated = true
			pi.Status = statusRequiresConfirmation
			s.dirty = true
			outcome = "succeeded"
		default:
			s.authorize(rc, pi, pm, prev, now)
			s.dirty = true
			outcome = "succeeded"
		}
	} else if pi.Status == statusSucceeded || pi.Status == statusRequiresCapture {
		outcome = "succeeded"
	}
	s.touchPI(pi)
	returnURL, id, secret := pi.ReturnURL, pi.ID, pi.ClientSecret
	gen := s.bump()
	s.mu.Unlock()
	if err := s.persist(gen); err != nil {
		http.Error(w, "The sandbox could not write its data file.", http.StatusInternalServerError)
		return
	}
	if returnURL == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = redirectTmpl.Execute(w, redirectView{Title: "Done", ID: id, Status: outcome})
		return
	}
	u, err := url.Parse(returnURL)
	if err != nil {
		http.Error(w, "The return_url of this payment is not a valid URL.", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Set("payment_intent", id)
	q.Set("payment_intent_client_secret", secret)
	q.Set("redirect_status", outcome)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
