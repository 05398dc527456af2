package sandbox

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Limits applied by the form decoder. They bound the work a single request
// can cause; anything beyond them is rejected with a Stripe-shaped 400.
const (
	// MaxBodyBytes is the largest request body the sandbox reads (1 MiB).
	// Larger bodies are answered with 413 and an invalid_request_error.
	MaxBodyBytes = 1 << 20
	// MaxFormDepth is the deepest bracket nesting accepted, counting the
	// top-level name: a[b][c][d][e][f][g][h] has depth 8.
	MaxFormDepth = 8
	// MaxFormKeys is the most key=value pairs accepted in one body.
	MaxFormKeys = 2048
	// MaxFormKeyLen is the longest single key accepted, in bytes.
	MaxFormKeyLen = 512
	// MaxFormArray is the longest array (name[]=… repeated) accepted.
	MaxFormArray = 1000
)

// errForm is wrapped by every form decoding failure.
var errForm = errors.New("invalid form body")

// formNode is one node of a decoded form: exactly one of str, list or
// fields is set. used marks nodes consumed by a params reader so that the
// remaining ones can be reported as unknown parameters.
type formNode struct {
	str    *string
	list   []*formNode
	fields map[string]*formNode
	used   bool
}

func (n *formNode) kind() string {
	switch {
	case n.str != nil:
		return "string"
	case n.list != nil:
		return "array"
	default:
		return "hash"
	}
}

// decodeForm parses an application/x-www-form-urlencoded body using Stripe's
// bracket notation (a[b]=1, a[]=1, a[0][b]=1) into a tree. It is strict:
// malformed escapes, semicolons, unbalanced brackets, a key used both as a
// scalar and as a hash or array, a scalar repeated, and anything beyond the
// package limits are errors wrapping errForm.
func decodeForm(body string) (*formNode, error) {
	root := &formNode{fields: map[string]*formNode{}}
	if body == "" {
		return root, nil
	}
	pairs := strings.Split(body, "&")
	if len(pairs) > MaxFormKeys {
		return nil, fmt.Errorf("%w: more than %d parameters", errForm, MaxFormKeys)
	}
	for _, pair := range pairs {
		if pair == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		if strings.Contains(rawKey, ";") || strings.Contains(rawVal, ";") {
			return nil, fmt.Errorf("%w: semicolons are not separators", errForm)
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in key", errForm)
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in value of %q", errForm, truncate(key, 64))
		}
		if err := root.insert(key, val); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// splitKey turns "a[b][]" into ["a", "b", ""].
func splitKey(key string) ([]string, error) {
	if len(key) > MaxFormKeyLen {
		return nil, fmt.Errorf("%w: key longer than %d bytes", errForm, MaxFormKeyLen)
	}
	name, rest, _ := strings.Cut(key, "[")
	if name == "" {
		return nil, fmt.Errorf("%w: empty parameter name in %q", errForm, truncate(key, 64))
	}
	if strings.Contains(name, "]") {
		return nil, fmt.Errorf("%w: unbalanced brackets in %q", errForm, truncate(key, 64))
	}
	segs := []string{name}
	if len(key) == len(name) {
		return segs, nil
	}
	// rest is everything after the first '['.
	for {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, fmt.Errorf("%w: unbalanced brackets in %q", errForm, truncate(key, 64))
		}
		seg := rest[:end]
		if strings.ContainsAny(seg, "[]") {
			return nil, fmt.Errorf("%w: nested brackets in %q", errForm, truncate(key, 64))
		}
		segs = append(segs, seg)
		if len(segs) > MaxFormDepth {
			return nil, fmt.Errorf("%w: nesting deeper than %d in %q", errForm, MaxFormDepth, truncate(key, 64))
		}
		rest = rest[end+1:]
		if rest == "" {
			break
		}
		if rest[0] != '[' {
			return nil, fmt.Errorf("%w: unexpected text after ']' in %q", errForm, truncate(key, 64))
		}
		rest = rest[1:]
	}
	for i, s := range segs[:len(segs)-1] {
		if i > 0 && s == "" {
			return nil, fmt.Errorf("%w: '[]' must be last in %q", errForm, truncate(key, 64))
		}
	}
	return segs, nil
}

func (n *formNode) insert(key, val string) error {
	segs, err := splitKey(key)
	if err != nil {
		return err
	}
	cur := n
	for i, seg := range segs {
		last := i == len(segs)-1
		if last && seg == "" && i > 0 { // name[]=val appends
			if cur.str != nil || cur.fields != nil {
				return fmt.Errorf("%w: %q mixes array and other forms", errForm, truncate(key, 64))
			}
			if len(cur.list) >= MaxFormArray {
				return fmt.Errorf("%w: array longer than %d", errForm, MaxFormArray)
			}
			v := val
			cur.list = append(cur.list, &formNode{str: &v})
			return nil
		}
		if cur.str != nil || cur.list != nil {
			return fmt.Errorf("%w: %q mixes hash and other forms", errForm, truncate(key, 64))
		}
		if cur.fields == nil {
			cur.fields = map[string]*formNode{}
		}
		child, ok := cur.fields[seg]
		if last {
			if ok {
				return fmt.Errorf("%w: parameter %q given more than once", errForm, truncate(key, 64))
			}
			v := val
			cur.fields[seg] = &formNode{str: &v}
			return nil
		}
		if !ok {
			nextIsList := i+1 == len(segs)-1 && segs[i+1] == ""
			child = &formNode{}
			if !nextIsList {
				child.fields = map[string]*formNode{}
			}
			cur.fields[seg] = child
		}
		cur = child
	}
	return nil
}

// asList returns the node's elements if it is an array (a[]=…) or a hash
// whose keys are all decimal indices (a[0]=…&a[1]=…), in index order.
func (n *formNode) asList() ([]*formNode, bool) {
	if n.list != nil {
		return n.list, true
	}
	if n.fields == nil {
		return nil, false
	}
	idx := make([]int, 0, len(n.fields))
	for k := range n.fields {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || strconv.Itoa(i) != k {
			return nil, false
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]*formNode, len(idx))
	for j, i := range idx {
		out[j] = n.fields[strconv.Itoa(i)]
	}
	return out, true
}

// unused returns the bracketed names of leaves (or empty containers) not
// consumed by a params reader, sorted.
func (n *formNode) unused() []string {
	var out []string
	var walk func(prefix string, n *formNode)
	walk = func(prefix string, n *formNode) {
		if n.used {
			return
		}
		switch {
		case n.str != nil:
			out = append(out, prefix)
		case n.list != nil:
			out = append(out, prefix+"[]")
		default:
			if len(n.fields) == 0 && prefix != "" {
				out = append(out, prefix)
			}
			for k, c := range n.fields {
				p := k
				if prefix != "" {
					p = prefix + "[" + k + "]"
				}
				walk(p, c)
			}
		}
	}
	walk("", n)
	sort.Strings(out)
	return out
}

// canonical returns a deterministic encoding of the tree, used to compare
// the parameters of two requests sharing an idempotency key.
func (n *formNode) canonical() string {
	var b strings.Builder
	var walk func(n *formNode)
	walk = func(n *formNode) {
		switch {
		case n.str != nil:
			b.WriteString(strconv.Quote(*n.str))
		case n.list != nil:
			b.WriteByte('[')
			for _, c := range n.list {
				walk(c)
				b.WriteByte(',')
			}
			b.WriteByte(']')
		default:
			keys := make([]string, 0, len(n.fields))
			for k := range n.fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteByte('{')
			for _, k := range keys {
				b.WriteString(strconv.Quote(k))
				b.WriteByte(':')
				walk(n.fields[k])
				b.WriteByte(',')
			}
			b.WriteByte('}')
		}
	}
	walk(n)
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
