package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Stripe's search query language, the subset Till needs:
//
//	clause (AND clause)*   or   clause (OR clause)*   (not mixed)
//	clause := ['-'] field op value
//	field  := name | metadata['key'] | metadata["key"]
//	op     := ':' (exact, case-insensitive) | '~' (substring, ≥ 3 chars)
//	          | '>' | '<' | '>=' | '<=' (numbers)
//	value  := 'text' | "text" | number | null

type fieldGetter func(field, key string) (string, bool)

type clause struct {
	negate bool
	field  string
	key    string
	op     string
	value  string
	null   bool
}

type query struct {
	clauses []clause
	or      bool
}

func parseQuery(q string, fields []string) (*query, error) {
	out := &query{}
	rest := strings.TrimSpace(q)
	if rest == "" {
		return nil, fmt.Errorf("the query is empty")
	}
	joiner := ""
	for {
		c, r, err := parseClause(rest, fields)
		if err != nil {
			return nil, err
		}
		out.clauses = append(out.clauses, c)
		rest = strings.TrimSpace(r)
		if rest == "" {
			break
		}
		word, after, _ := strings.Cut(rest, " ")
		if word != "AND" && word != "OR" {
			return nil, fmt.Errorf("expected AND or OR at %q", truncate(rest, 30))
		}
		if joiner != "" && joiner != word {
			return nil, fmt.Errorf("AND and OR cannot be combined in one query")
		}
		joiner = word
		rest = strings.TrimSpace(after)
		if len(out.clauses) >= 10 {
			return nil, fmt.Errorf("at most 10 clauses are allowed")
		}
	}
	out.or = joiner == "OR"
	return out, nil
}

func parseClause(s string, fields []string) (clause, string, error) {
	var c clause
	if strings.HasPrefix(s, "-") {
		c.negate = true
		s = s[1:]
	}
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z') {
		i++
	}
	c.field = s[:i]
	s = s[i:]
	if c.field == "" {
		return c, "", fmt.Errorf("expected a field name at %q", truncate(s, 30))
	}
	if !slices.Contains(fields, c.field) {
		return c, "", fmt.Errorf("field '%s' is an unsupported search field (supported: %s)", truncate(c.field, 30), strings.Join(fields, ", "))
	}
	if c.field == "metadata" {
		if !strings.HasPrefix(s, "[") {
			return c, "", fmt.Errorf("metadata needs a key: metadata['key']")
		}
		key, r, err := quoted(s[1:])
		if err != nil {
			return c, "", err
		}
		if !strings.HasPrefix(r, "]") {
			return c, "", fmt.Errorf("expected ']' after the metadata key")
		}
		c.key = key
		s = r[1:]
	}
	for _, op := range []string{">=", "<=", ":", "~", ">", "<"} {
		if strings.HasPrefix(s, op) {
			c.op = op
			s = s[len(op):]
			break
		}
	}
	if c.op == "" {
		return c, "", fmt.Errorf("expected an operator (:, ~, >, <, >=, <=) after %s", c.field)
	}
	if strings.HasPrefix(s, "'") || strings.HasPrefix(s, `"`) {
		v, r, err := quoted(s)
		if err != nil {
			return c, "", err
		}
		c.value = v
		s = r
	} else {
		j := strings.IndexByte(s, ' ')
		if j < 0 {
			j = len(s)
		}
		c.value = s[:j]
		s = s[j:]
		if c.value == "null" {
			c.null = true
		} else if _, err := strconv.ParseInt(c.value, 10, 64); err != nil {
			return c, "", fmt.Errorf("values must be quoted strings or numbers: %q", truncate(c.value, 30))
		}
	}
	if c.op == "~" && len(c.value) < 3 {
		return c, "", fmt.Errorf("the ~ operator needs at least 3 characters")
	}
	if c.op != ":" && c.op != "~" {
		if _, err := strconv.ParseInt(c.value, 10, 64); err != nil {
			return c, "", fmt.Errorf("%s needs a number", c.op)
		}
	}
	return c, s, nil
}

// quoted reads a '…' or "…" string with backslash escapes.
func quoted(s string) (string, string, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", "", fmt.Errorf("expected a quoted string at %q", truncate(s, 30))
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case q:
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("unterminated string")
}

func (c clause) match(get fieldGetter) bool {
	v, ok := get(c.field, c.key)
	var res bool
	switch {
	case c.null:
		res = !ok || v == ""
	case !ok:
		res = false
	case c.op == ":":
		res = strings.EqualFold(v, c.value)
	case c.op == "~":
		res = strings.Contains(strings.ToLower(v), strings.ToLower(c.value))
	default:
		a, err1 := strconv.ParseInt(v, 10, 64)
		b, err2 := strconv.ParseInt(c.value, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch c.op {
		case ">":
			res = a > b
		case "<":
			res = a < b
		case ">=":
			res = a >= b
		case "<=":
			res = a <= b
		}
	}
	return res != c.negate
}

func (q *query) match(get fieldGetter) bool {
	for _, c := range q.clauses {
		m := c.match(get)
		if q.or && m {
			return true
		}
		if !q.or && !m {
			return false
		}
	}
	return !q.or
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const pagePrefix = "page_"

// search runs a search endpoint over positions 0..n-1 (creation order),
// newest first.
func (s *Server) search(rc *reqCtx, url string, fields []string, n int, getter func(int) fieldGetter, render func(int) any, indexOf func(string) (int, bool)) (any, *apiError) {
	p := rc.p
	qs := p.requiredStr("query")
	limit := int64(10)
	if l, ok := p.int("limit"); ok {
		if l < 1 || l > 100 {
			p.fail(invalid("parameter_invalid_integer", "limit", "Invalid limit: must be between 1 and 100"))
		}
		limit = l
	}
	page, _ := p.str("page")
	p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	q, err := parseQuery(qs, fields)
	if err != nil {
		return nil, invalid("parameter_invalid_string", "query", "Invalid query: %v", err)
	}
	lp := listParams{limit: int(limit)}
	if page != "" {
		id, ok := strings.CutPrefix(page, pagePrefix)
		if !ok {
			return nil, invalid("parameter_invalid_string", "page", "Invalid page: %s", truncate(page, 40))
		}
		lp.startingAfter = id
	}
	idx, more, e := lp.page(n, func(i int) bool { return q.match(getter(i)) }, indexOf)
	if e != nil {
		e.Param, e.Code = "page", "parameter_invalid_string"
		return nil, e
	}
	out := &searchJS{Object: "search_result", Data: make([]any, 0, len(idx)), HasMore: more, URL: url}
	for _, i := range idx {
		out.Data = append(out.Data, render(i))
	}
	if more && len(idx) > 0 {
		last := render(idx[len(idx)-1])
		var id string
		switch v := last.(type) {
		case *paymentIntentJS:
			id = v.ID
		case *customerJS:
			id = v.ID
		}
		np := pagePrefix + id
		out.NextPage = &np
	}
	return out, nil
}
