package sandbox

func (s *Server) intentIndex(id string) (int, bool) {
	pi := s.st.Intents[id]
	if pi == nil {
		return 0, false
	}
	return indexBySeq(s.st.IntentOrder, pi.Seq, func(id string) int64 { return s.st.Intents[id].Seq })
}

// GET /v1/payment_intents
func (s *Server) listIntents(rc *reqCtx) (any, *apiError) {
	customer, _ := rc.p.str("customer")
	lp := readListParams(rc.p)
	expand := expandData(rc.p)
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	order := s.st.IntentOrder
	match := func(i int) bool {
		pi := s.st.Intents[order[i]]
		return (customer == "" || pi.Customer == customer) && (lp.created == nil || lp.created(pi.Created))
	}
	idx, more, e := lp.page(len(order), match, s.intentIndex)
	if e != nil {
		return nil, e
	}
	data := make([]any, 0, len(idx))
	for _, i := range idx {
		data = append(data, s.renderIntent(s.st.Intents[order[i]], expand))
	}
	return &listJS{Object: "list", Data: data, HasMore: more, URL: "/v1/payment_intents"}, nil
}

// expandData turns expand[]=data.latest_charge into {latest_charge}. It
// reads nothing itself: readListParams already consumed expand.
func expandData(p *params) map[string]bool {
	n := p.root.fields["expand"]
	if n == nil {
		return nil
	}
	items, _ := n.asList()
	out := map[string]bool{}
	for _, it := range items {
		if it.str != nil && len(*it.str) > 5 && (*it.str)[:5] == "data." {
			out[(*it.str)[5:]] = true
		}
	}
	return out
}

// GET /v1/payment_intents/search
func (s *Server) searchIntents(rc *reqCtx) (any, *apiError) {
	order := s.st.IntentOrder
	return s.search(rc, "/v1/payment_intents/search", []string{"amount", "currency", "customer", "status", "created", "metadata"}, len(order),
		func(i int) fieldGetter {
			pi := s.st.Intents[order[i]]
			return func(field, key string) (string, bool) {
				switch field {
				case "amount":
					return itoa(pi.Amount), true
				case "currency":
					return pi.Currency, true
				case "customer":
					return pi.Customer, pi.Customer != ""
				case "status":
					return pi.Status, true
				case "created":
					return itoa(pi.Created), true
				case "metadata":
					v, ok := pi.Metadata[key]
					return v, ok
				}
				return "", false
			}
		},
		func(i int) any { return s.renderIntent(s.st.Intents[order[i]], nil) },
		s.intentIndex)
}
