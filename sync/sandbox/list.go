package sandbox

import (
	"net/http"
	"sort"
)

// listParams are Stripe's cursor pagination parameters plus the created
// range filter.
type listParams struct {
	limit         int
	startingAfter string
	endingBefore  string
	created       func(int64) bool
}

func readListParams(p *params) listParams {
	lp := listParams{limit: 10}
	if n, ok := p.int("limit"); ok {
		if n < 1 || n > 100 {
			p.fail(invalid("parameter_invalid_integer", "limit", "Invalid limit: must be between 1 and 100"))
		}
		lp.limit = int(n)
	}
	lp.startingAfter, _ = p.str("starting_after")
	lp.endingBefore, _ = p.str("ending_before")
	if lp.startingAfter != "" && lp.endingBefore != "" {
		p.fail(invalid("parameters_exclusive", "ending_before", "You may only specify one of these parameters: ending_before, starting_after."))
	}
	lp.created = readRange(p, "created")
	p.expand()
	return lp
}

// readRange reads name=ts or name[gt|gte|lt|lte]=ts.
func readRange(p *params, name string) func(int64) bool {
	n := p.root.fields[name]
	if n == nil {
		return nil
	}
	if n.str != nil {
		v, ok := p.int(name)
		if !ok {
			return nil
		}
		return func(t int64) bool { return t == v }
	}
	var checks []func(int64) bool
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		v, ok := p.int(name, op)
		if !ok {
			continue
		}
		switch op {
		case "gt":
			checks = append(checks, func(t int64) bool { return t > v })
		case "gte":
			checks = append(checks, func(t int64) bool { return t >= v })
		case "lt":
			checks = append(checks, func(t int64) bool { return t < v })
		case "lte":
			checks = append(checks, func(t int64) bool { return t <= v })
		}
	}
	return func(t int64) bool {
		for _, c := range checks {
			if !c(t) {
				return false
			}
		}
		return true
	}
}

// page selects list positions, newest first. Items are positions 0..n-1
// in creation order; match filters them; indexOf resolves a cursor id.
func (lp listParams) page(n int, match func(int) bool, indexOf func(string) (int, bool)) ([]int, bool, *apiError) {
	var out []int
	switch {
	case lp.endingBefore != "":
		at, ok := indexOf(lp.endingBefore)
		if !ok {
			return nil, false, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "ending_before", Message: "No such object: '" + lp.endingBefore + "'"}
		}
		for i := at + 1; i < n && len(out) <= lp.limit; i++ {
			if match(i) {
				out = append(out, i)
			}
		}
		more := len(out) > lp.limit
		if more {
			out = out[:lp.limit]
		}
		for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
			out[l], out[r] = out[r], out[l]
		}
		return out, more, nil
	default:
		start := n - 1
		if lp.startingAfter != "" {
			at, ok := indexOf(lp.startingAfter)
			if !ok {
				return nil, false, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "starting_after", Message: "No such object: '" + lp.startingAfter + "'"}
			}
			start = at - 1
		}
		for i := start; i >= 0 && len(out) <= lp.limit; i-- {
			if match(i) {
				out = append(out, i)
			}
		}
		more := len(out) > lp.limit
		if more {
			out = out[:lp.limit]
		}
		return out, more, nil
	}
}

// indexBySeq finds the position of the record with sequence number seq in
// an order slice sorted by sequence.
func indexBySeq(order []string, seq int64, seqOf func(string) int64) (int, bool) {
	i := sort.Search(len(order), func(i int) bool { return seqOf(order[i]) >= seq })
	if i < len(order) && seqOf(order[i]) == seq {
		return i, true
	}
	return 0, false
}
