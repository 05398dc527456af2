package sandbox

import (
	"strconv"
	"strings"
)

// params reads typed values out of a decoded form and remembers the first
// problem. Every value read marks its node used; done reports the first
// parameter nobody read as parameter_unknown, which is how Stripe answers
// unknown parameters.
type params struct {
	root *formNode
	err  *apiError
}

func newParams(root *formNode) *params { return &params{root: root} }

func (p *params) fail(e *apiError) {
	if p.err == nil {
		p.err = e
	}
}

func paramName(path []string) string {
	var b strings.Builder
	b.WriteString(path[0])
	for _, s := range path[1:] {
		b.WriteString("[" + s + "]")
	}
	return b.String()
}

// node finds the node at path and marks it used.
func (p *params) node(path ...string) *formNode {
	cur := p.root
	for _, s := range path {
		if cur.fields == nil {
			return nil
		}
		next, ok := cur.fields[s]
		if !ok {
			return nil
		}
		cur = next
	}
	cur.used = true
	return cur
}

// has reports whether path is present, without consuming it.
func (p *params) has(path ...string) bool {
	cur := p.root
	for _, s := range path {
		if cur.fields == nil {
			return false
		}
		next, ok := cur.fields[s]
		if !ok {
			return false
		}
		cur = next
	}
	return true
}

// str returns a string parameter. present is false when absent; an empty
// string is returned with present true (Stripe reads it as "unset").
func (p *params) str(path ...string) (v string, present bool) {
	n := p.node(path...)
	if n == nil {
		return "", false
	}
	if n.str == nil {
		p.fail(invalid("parameter_invalid_string", paramName(path), "Invalid string: %s is a %s, expected a string.", paramName(path), n.kind()))
		return "", false
	}
	return *n.str, true
}

// requiredStr is str for a required, non-empty parameter.
func (p *params) requiredStr(path ...string) string {
	v, ok := p.str(path...)
	if !ok {
		if p.err == nil {
			p.fail(missingParam(paramName(path)))
		}
		return ""
	}
	if v == "" {
		p.fail(emptyParam(paramName(path)))
	}
	return v
}

// enum reads an optional string restricted to allowed values.
func (p *params) enum(allowed []string, path ...string) (string, bool) {
	v, ok := p.str(path...)
	if !ok || v == "" {
		return "", false
	}
	for _, a := range allowed {
		if v == a {
			return v, true
		}
	}
	p.fail(invalid("parameter_invalid_string", paramName(path), "Invalid %s: must be one of %s", paramName(path), strings.Join(allowed, ", ")))
	return "", false
}

// int reads an integer parameter. Anything but a plain base-10 integer is
// parameter_invalid_integer.
func (p *params) int(path ...string) (int64, bool) {
	v, ok := p.str(path...)
	if !ok {
		return 0, false
	}
	if v == "" {
		p.fail(emptyParam(paramName(path)))
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || strings.HasPrefix(v, "+") {
		p.fail(invalid("parameter_invalid_integer", paramName(path), "Invalid integer: %s", truncate(v, 40)))
		return 0, false
	}
	return n, true
}

// bool reads a boolean parameter ("true" or "false").
func (p *params) bool(path ...string) (bool, bool) {
	v, ok := p.str(path...)
	if !ok || v == "" {
		return false, false
	}
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.fail(invalid("parameter_invalid_boolean", paramName(path), "Invalid boolean: %s", truncate(v, 40)))
	return false, false
}

// strList reads name[]=… (or name[0]=…) as a list of strings.
func (p *params) strList(path ...string) ([]string, bool) {
	n := p.node(path...)
	if n == nil {
		return nil, false
	}
	if n.str != nil && *n.str == "" {
		return []string{}, true // name= clears a list
	}
	items, ok := n.asList()
	if !ok {
		p.fail(invalid("parameter_invalid_array", paramName(path), "Invalid array: %s must be an array", paramName(path)))
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if it.str == nil {
			p.fail(invalid("parameter_invalid_string", paramName(path), "Invalid array: %s must contain strings", paramName(path)))
			return nil, false
		}
		out = append(out, *it.str)
	}
	return out, true
}

// metadataUpdate is what a metadata parameter asks for: clear everything
// (metadata=), and set or (with "") delete keys.
type metadataUpdate struct {
	present bool
	clear   bool
	set     map[string]string
}

func (m metadataUpdate) apply(dst map[string]string) map[string]string {
	if !m.present {
		return dst
	}
	if m.clear || dst == nil {
		dst = map[string]string{}
	}
	for k, v := range m.set {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// metadata reads metadata[key]=value with Stripe's limits: 50 keys, keys up
// to 40 characters, values up to 500 characters.
func (p *params) metadata() metadataUpdate { return p.metadataAt("metadata") }

// metadataAt reads a metadata hash at path (e.g. payment_method_data[metadata])
// with the same limits as the top-level metadata parameter.
func (p *params) metadataAt(path ...string) metadataUpdate {
	field := paramName(path)
	n := p.node(path...)
	if n == nil {
		return metadataUpdate{}
	}
	if n.str != nil {
		if *n.str != "" {
			p.fail(invalid("parameter_invalid_string", field, "Invalid hash: %s must be a hash of string keys to string values", field))
		}
		return metadataUpdate{present: true, clear: true}
	}
	if n.fields == nil {
		p.fail(invalid("parameter_invalid_string", field, "Invalid hash: %s must be a hash", field))
		return metadataUpdate{}
	}
	if len(n.fields) > 50 {
		p.fail(invalid("parameter_invalid_string", field, "Invalid metadata: %s can have up to 50 keys", field))
		return metadataUpdate{}
	}
	set := make(map[string]string, len(n.fields))
	for k, c := range n.fields {
		name := field + "[" + k + "]"
		if c.str == nil {
			p.fail(invalid("parameter_invalid_string", name, "Invalid metadata: values must be strings"))
			return metadataUpdate{}
		}
		if len(k) > 40 {
			p.fail(invalid("parameter_invalid_string", name, "Invalid metadata: keys can be up to 40 characters long"))
			return metadataUpdate{}
		}
		if len(*c.str) > 500 {
			p.fail(invalid("parameter_invalid_string", name, "Invalid metadata: values can be up to 500 characters long"))
			return metadataUpdate{}
		}
		set[k] = *c.str
	}
	return metadataUpdate{present: true, set: set}
}

// consume marks a whole subtree as read, for parameters the sandbox accepts
// but does not model (payment_method_options, mandate_data, …).
func (p *params) consume(path ...string) bool {
	return p.node(path...) != nil
}

// expand reads expand[] and returns the set of expanded fields.
func (p *params) expand() map[string]bool {
	list, ok := p.strList("expand")
	if !ok {
		return nil
	}
	out := make(map[string]bool, len(list))
	for _, e := range list {
		out[e] = true
	}
	return out
}

// done returns the first error seen, or parameter_unknown for the first
// parameter nobody read.
func (p *params) done() *apiError {
	if p.err != nil {
		return p.err
	}
	if u := p.root.unused(); len(u) > 0 {
		return unknownParam(u[0])
	}
	return nil
}
