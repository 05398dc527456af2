package sandbox

import (
	"strings"
)

// GET /v1/events
func (s *Server) listEvents(rc *reqCtx) (any, *apiError) {
	p := rc.p
	typ, _ := p.str("type")
	types, typesGiven := p.strList("types")
	consumeAccepted(p, "delivery_success")
	lp := readListParams(p)
	if e := p.done(); e != nil {
		return nil, e
	}
	if typ != "" && typesGiven {
		return nil, invalid("parameters_exclusive", "types", "You may only specify one of these parameters: type, types.")
	}
	if len(types) > 20 {
		return nil, invalid("parameter_invalid_array", "types", "Invalid types: at most 20 types")
	}
	if typ != "" {
		types = []string{typ}
	}
	evs := s.st.Events
	match := func(i int) bool {
		e := evs[i]
		if lp.created != nil && !lp.created(e.Created) {
			return false
		}
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if typeMatches(t, e.Type) {
				return true
			}
		}
		return false
	}
	idx, more, e := lp.page(len(evs), match, func(id string) (int, bool) {
		i, ok := s.st.eventIndex[id]
		return i, ok
	})
	if e != nil {
		return nil, e
	}
	data := make([]any, 0, len(idx))
	for _, i := range idx {
		data = append(data, renderEvent(evs[i]))
	}
	return &listJS{Object: "list", Data: data, HasMore: more, URL: "/v1/events"}, nil
}

// typeMatches supports Stripe's wildcard: payment_intent.* matches every
// payment_intent event.
func typeMatches(pattern, typ string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}

// GET /v1/events/{id}
func (s *Server) retrieveEvent(rc *reqCtx) (any, *apiError) {
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	i, ok := s.st.eventIndex[rc.id]
	if !ok {
		return nil, noSuch("event", rc.id, "id")
	}
	return renderEvent(s.st.Events[i]), nil
}
