package sandbox

import (
	"net/http"
	"strings"
	"time"
)

func renderCustomer(c *customerRec) *customerJS {
	return &customerJS{
		ID: c.ID, Object: "customer", Created: c.Created, Description: strOrNil(c.Description), Email: strOrNil(c.Email),
		InvoicePrefix: c.InvoicePrefix, InvoiceSettings: invoiceSettingsJS{DefaultPaymentMethod: strOrNil(c.DefaultPaymentMethod)},
		Metadata: copyMeta(c.Metadata), Name: strOrNil(c.Name), NextInvoiceSequence: 1, Phone: strOrNil(c.Phone),
		PreferredLocales: []string{}, TaxExempt: "none",
	}
}

func (s *Server) customer(id string) (*customerRec, *apiError) {
	c := s.st.Customers[id]
	if c == nil {
		return nil, noSuch("customer", id, "id")
	}
	return c, nil
}

type customerFields struct {
	email, name, phone, desc             string
	emailSet, nameSet, phoneSet, descSet bool
	defaultPM                            string
	defaultPMSet                         bool
	meta                                 metadataUpdate
}

func readCustomerFields(p *params) customerFields {
	var f customerFields
	f.email, f.emailSet = p.str("email")
	f.name, f.nameSet = p.str("name")
	f.phone, f.phoneSet = p.str("phone")
	f.desc, f.descSet = p.str("description")
	f.defaultPM, f.defaultPMSet = p.str("invoice_settings", "default_payment_method")
	f.meta = p.metadata()
	if f.emailSet && len(f.email) > 512 {
		p.fail(invalid("parameter_invalid_string", "email", "Invalid email: at most 512 characters"))
	}
	if f.emailSet && f.email != "" && !strings.Contains(f.email, "@") {
		p.fail(invalid("email_invalid", "email", "Invalid email address: %s", truncate(f.email, 80)))
	}
	consumeAccepted(p, "address", "shipping", "preferred_locales", "payment_method")
	p.expand()
	return f
}

func (f customerFields) apply(c *customerRec) {
	if f.emailSet {
		c.Email = f.email
	}
	if f.nameSet {
		c.Name = f.name
	}
	if f.phoneSet {
		c.Phone = f.phone
	}
	if f.descSet {
		c.Description = f.desc
	}
	if f.defaultPMSet {
		c.DefaultPaymentMethod = f.defaultPM
	}
	c.Metadata = f.meta.apply(c.Metadata)
}

// POST /v1/customers
func (s *Server) createCustomer(rc *reqCtx) (any, *apiError) {
	f := readCustomerFields(rc.p)
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	c := &customerRec{Seq: s.st.nextSeq(), ID: s.ids.id("cus_"), Created: rc.now, Metadata: map[string]string{}, InvoicePrefix: strings.ToUpper(s.ids.token(8))}
	f.apply(c)
	if f.defaultPMSet && f.defaultPM != "" {
		return nil, invalid("parameter_invalid_string", "invoice_settings[default_payment_method]", "Attach the PaymentMethod to the customer before making it the default.")
	}
	s.st.Customers[c.ID] = c
	s.st.CustomerOrder = append(s.st.CustomerOrder, c.ID)
	s.touch(bucketCustomers, c.ID)
	s.emit(rc, "customer.created", renderCustomer(c), nil, rc.now)
	return renderCustomer(c), nil
}

// POST /v1/customers/{id}
func (s *Server) updateCustomer(rc *reqCtx) (any, *apiError) {
	f := readCustomerFields(rc.p)
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	c, e := s.customer(rc.id)
	if e != nil {
		return nil, e
	}
	if f.defaultPMSet && f.defaultPM != "" {
		if pm := s.st.PMs[f.defaultPM]; pm == nil || pm.Customer != c.ID {
			return nil, invalid("resource_missing", "invoice_settings[default_payment_method]", "No such PaymentMethod: '%s' attached to customer %s", f.defaultPM, c.ID)
		}
	}
	f.apply(c)
	s.emit(rc, "customer.updated", renderCustomer(c), nil, rc.now)
	return renderCustomer(c), nil
}

// GET /v1/customers/{id}
func (s *Server) retrieveCustomer(rc *reqCtx) (any, *apiError) {
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	c, e := s.customer(rc.id)
	if e != nil {
		return nil, e
	}
	return renderCustomer(c), nil
}

func (s *Server) customerIndex(id string) (int, bool) {
	c := s.st.Customers[id]
	if c == nil {
		return 0, false
	}
	return indexBySeq(s.st.CustomerOrder, c.Seq, func(id string) int64 { return s.st.Customers[id].Seq })
}

// GET /v1/customers
func (s *Server) listCustomers(rc *reqCtx) (any, *apiError) {
	email, _ := rc.p.str("email")
	lp := readListParams(rc.p)
	consumeAccepted(rc.p, "test_clock")
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	order := s.st.CustomerOrder
	match := func(i int) bool {
		c := s.st.Customers[order[i]]
		return (email == "" || c.Email == email) && (lp.created == nil || lp.created(c.Created))
	}
	idx, more, e := lp.page(len(order), match, s.customerIndex)
	if e != nil {
		return nil, e
	}
	data := make([]any, 0, len(idx))
	for _, i := range idx {
		data = append(data, renderCustomer(s.st.Customers[order[i]]))
	}
	return &listJS{Object: "list", Data: data, HasMore: more, URL: "/v1/customers"}, nil
}

// GET /v1/customers/search
func (s *Server) searchCustomers(rc *reqCtx) (any, *apiError) {
	order := s.st.CustomerOrder
	return s.search(rc, "/v1/customers/search", []string{"email", "name", "phone", "created", "metadata"}, len(order),
		func(i int) fieldGetter {
			c := s.st.Customers[order[i]]
			return func(field, key string) (string, bool) {
				switch field {
				case "email":
					return c.Email, true
				case "name":
					return c.Name, true
				case "phone":
					return c.Phone, true
				case "created":
					return itoa(c.Created), true
				case "metadata":
					v, ok := c.Metadata[key]
					return v, ok
				}
				return "", false
			}
		},
		func(i int) any { return renderCustomer(s.st.Customers[order[i]]) },
		s.customerIndex)
}

// POST /v1/customer_sessions
func (s *Server) createCustomerSession(rc *reqCtx) (any, *apiError) {
	p := rc.p
	cusID := p.requiredStr("customer")
	components := map[string]any{}
	for _, name := range []string{"buy_button", "pricing_table", "payment_element"} {
		enabled, _ := p.bool("components", name, "enabled")
		comp := map[string]any{"enabled": enabled}
		if name == "payment_element" {
			feat := map[string]any{
				"payment_method_allow_redisplay_filters": []string{"always"},
				"payment_method_redisplay":               "disabled",
				"payment_method_redisplay_limit":         3,
				"payment_method_remove":                  "disabled",
				"payment_method_save":                    "disabled",
				"payment_method_save_usage":              nil,
			}
			for _, f := range []string{"payment_method_redisplay", "payment_method_remove", "payment_method_save"} {
				if v, ok := p.enum([]string{"enabled", "disabled"}, "components", name, "features", f); ok {
					feat[f] = v
				}
			}
			if v, ok := p.enum([]string{"off_session", "on_session"}, "components", name, "features", "payment_method_save_usage"); ok {
				feat["payment_method_save_usage"] = v
			}
			if v, ok := p.int("components", name, "features", "payment_method_redisplay_limit"); ok {
				if v < 1 || v > 10 {
					p.fail(invalid("parameter_invalid_integer", "components[payment_element][features][payment_method_redisplay_limit]", "Invalid integer: must be between 1 and 10"))
				}
				feat["payment_method_redisplay_limit"] = v
			}
			if v, ok := p.strList("components", name, "features", "payment_method_allow_redisplay_filters"); ok {
				feat["payment_method_allow_redisplay_filters"] = v
			}
			comp["features"] = feat
		}
		components[name] = comp
	}
	if !p.has("components") && p.err == nil {
		p.fail(missingParam("components"))
	}
	p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	if _, e := s.customer(cusID); e != nil {
		e.Status, e.Param = http.StatusBadRequest, "customer"
		return nil, e
	}
	return map[string]any{
		"object":        "customer_session",
		"client_secret": "cuss_secret_" + s.ids.token(40),
		"components":    components,
		"created":       rc.now,
		"customer":      cusID,
		"expires_at":    rc.now + int64((30 * time.Minute).Seconds()),
		"livemode":      false,
	}, nil
}
