package sandbox

import (
	"errors"
	"strings"
	"testing"
)

var formCases = []struct {
	name, body string
	ok         bool
	want       string // canonical form when ok
}{
	{"empty", "", true, "{}"},
	{"scalar", "amount=1000&currency=usd", true, `{"amount":"1000","currency":"usd",}`},
	{"hash", "metadata[order_id]=42&metadata[lane]=2", true, `{"metadata":{"lane":"2","order_id":"42",},}`},
	{"array", "payment_method_types[]=card_present&payment_method_types[]=interac_present", true, `{"payment_method_types":["card_present","interac_present",],}`},
	{"indexed", "expand[1]=b&expand[0]=a", true, `{"expand":{"0":"a","1":"b",},}`},
	{"deep", "components[payment_element][features][payment_method_redisplay]=enabled", true, `{"components":{"payment_element":{"features":{"payment_method_redisplay":"enabled",},},},}`},
	{"escapes", "description=caf%C3%A9+au+lait&metadata%5Bk%5D=v", true, `{"description":"café au lait","metadata":{"k":"v",},}`},
	{"empty value", "description=", true, `{"description":"",}`},
	{"trailing amp", "a=1&", true, `{"a":"1",}`},
	{"bad escape", "a=%zz", false, ""},
	{"bad key escape", "%zz=1", false, ""},
	{"semicolon", "a=1;b=2", false, ""},
	{"nested brackets", "a[b[c]]=1", false, ""},
	{"unbalanced", "a[b=1", false, ""},
	{"close only", "a]=1", false, ""},
	{"text after bracket", "a[b]c=1", false, ""},
	{"no name", "[a]=1", false, ""},
	{"array not last", "a[][b]=1", false, ""},
	{"scalar repeated", "a=1&a=2", false, ""},
	{"scalar then hash", "a=1&a[b]=2", false, ""},
	{"hash then scalar", "a[b]=2&a=1", false, ""},
	{"array then hash", "a[]=1&a[b]=2", false, ""},
	{"too deep", "a" + strings.Repeat("[x]", MaxFormDepth) + "=1", false, ""},
	{"max depth", "a" + strings.Repeat("[x]", MaxFormDepth-1) + "=1", true, "{\"a\":" + strings.Repeat("{\"x\":", MaxFormDepth-1) + "\"1\"," + strings.Repeat("},", MaxFormDepth-1) + "}"},
	{"long key", strings.Repeat("k", MaxFormKeyLen+1) + "=1", false, ""},
	{"too many keys", strings.Repeat("a[]=1&", MaxFormKeys+1), false, ""},
	{"long array", strings.Repeat("a[]=1&", MaxFormArray+1), false, ""},
}

func TestDecodeForm(t *testing.T) {
	for _, tc := range formCases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := decodeForm(tc.body)
			if !tc.ok {
				if err == nil || !errors.Is(err, errForm) {
					t.Fatalf("err = %v, want errForm", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := n.canonical(); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParamsUnknownReportsBracketPath(t *testing.T) {
	n, err := decodeForm("amount=1&payment_method_data[type]=twint&payment_method_data[bogus]=1")
	if err != nil {
		t.Fatal(err)
	}
	p := newParams(n)
	p.int("amount")
	p.str("payment_method_data", "type")
	e := p.done()
	if e == nil || e.Code != "parameter_unknown" || e.Param != "payment_method_data[bogus]" {
		t.Fatalf("done = %+v", e)
	}
}

// FuzzDecodeForm: decoding never panics, errors wrap errForm, a decoded
// tree re-encodes to the same canonical form every time, and nothing
// exceeds the limits.
func FuzzDecodeForm(f *testing.F) {
	for _, tc := range formCases {
		if len(tc.body) < 4096 {
			f.Add(tc.body)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		n, err := decodeForm(body)
		if err != nil {
			if !errors.Is(err, errForm) {
				t.Fatalf("error does not wrap errForm: %v", err)
			}
			return
		}
		c1 := n.canonical()
		n2, err := decodeForm(body)
		if err != nil || n2.canonical() != c1 {
			t.Fatalf("decoding is not deterministic")
		}
		var depth func(*formNode) int
		depth = func(n *formNode) int {
			d := 0
			for _, c := range n.fields {
				d = max(d, depth(c))
			}
			for _, c := range n.list {
				d = max(d, depth(c))
			}
			return d + 1
		}
		if d := depth(n); d > MaxFormDepth+2 {
			t.Fatalf("depth %d beyond the limit", d)
		}
		p := newParams(n)
		_ = p.done() // must not panic on any tree
		p.metadata()
		p.strList("expand")
	})
}
