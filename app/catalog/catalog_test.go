package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillpos/till/app/money"
)

func TestValidateBarcode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"4006381333931", true},  // EAN-13
		{"4006381333932", false}, // wrong check digit
		{"036000291452", true},   // UPC-A
		{"036000291453", false},
		{"96385074", true}, // EAN-8
		{"96385075", false},
		{"10012345678902", true}, // GTIN-14
		{"7610335001202", true},
		{"12345", true},   // store-internal numeric code of another length
		{"CAFE-01", true}, // store-internal label
		{"40063 81333931", false},
		{"abc\x00", false},
		{"", false},
	}
	for _, tt := range tests {
		err := ValidateBarcode(tt.code)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateBarcode(%q) = %v, want ok=%v", tt.code, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidBarcode) {
			t.Errorf("ValidateBarcode(%q) error %v is not ErrInvalidBarcode", tt.code, err)
		}
	}
}

func TestParseTaxRate(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"8.1", 810, true}, {"2,6 %", 260, true}, {"7.70%", 770, true}, {"0", 0, true},
		{"100", 10000, true}, {"19", 1900, true}, {"0.05", 5, true},
		{"100.01", 0, false}, {"8.125", 0, false}, {"-8", 0, false}, {"8.", 0, false},
		{".5", 0, false}, {"", 0, false}, {"abc", 0, false}, {"1e2", 0, false}, {"1000", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTaxRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTaxRate(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func chf(a int64) money.Money { return money.New(a, money.CHF) }

func TestNewAndLookups(t *testing.T) {
	c, err := New(money.CHF, []Product{
		{SKU: "A", Barcode: "036000291452", Name: "Café crème", Price: chf(480), TaxRate: 260, Category: "Hot"},
		{SKU: "B", Name: "Birchermüesli", Price: chf(750), TaxRate: 260, Category: "Food"},
		{SKU: "C", Barcode: "INT-7", Name: "Espresso", Price: chf(420), TaxRate: 260, Category: "Hot"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.BySKU("B"); !ok || p.Name != "Birchermüesli" {
		t.Errorf("BySKU(B) = %v, %v", p, ok)
	}
	if p, ok := c.ByBarcode("0036000291452"); !ok || p.SKU != "A" {
		t.Errorf("ByBarcode(EAN-13 form of UPC-A) = %v, %v", p, ok)
	}
	if p, ok := c.Lookup(" INT-7 "); !ok || p.SKU != "C" {
		t.Errorf("Lookup(barcode) = %v, %v", p, ok)
	}
	if p, ok := c.Lookup("B"); !ok || p.SKU != "B" {
		t.Errorf("Lookup(SKU) = %v, %v", p, ok)
	}
	if _, ok := c.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	if got := strings.Join(c.Categories(), ","); got != "Hot,Food" {
		t.Errorf("Categories = %s", got)
	}
	hot := c.InCategory("Hot")
	if len(hot) != 2 || hot[0].SKU != "A" || hot[1].SKU != "C" {
		t.Errorf("InCategory(Hot) = %v", hot)
	}
	if c.InCategory("None") != nil {
		t.Error("InCategory(None) not nil")
	}
	search := map[string]string{
		"muesli": "B", "MÜESLI": "B", "cafe": "A", "CRÈME": "A", "press": "C", "es": "B,C", "": "A,B,C", "zzz": "",
	}
	for q, want := range search {
		var got []string
		for _, p := range c.Search(q) {
			got = append(got, p.SKU)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("Search(%q) = %v, want %s", q, got, want)
		}
	}
	// The catalog hands out copies.
	c.Products()[0].Name = "changed"
	c.Categories()[0] = "changed"
	if p, _ := c.BySKU("A"); p.Name != "Café crème" || c.Categories()[0] != "Hot" {
		t.Error("catalog state changed through a returned slice")
	}
}

func TestNewRejects(t *testing.T) {
	good := Product{SKU: "A", Name: "x", Price: chf(100), TaxRate: 810, Category: "c"}
	with := func(f func(*Product)) Product { p := good; f(&p); return p }
	tests := []struct {
		name     string
		products []Product
		want     error
	}{
		{"dup sku", []Product{good, with(func(p *Product) { p.Name = "y" })}, ErrDuplicateSKU},
		{"dup barcode UPC/EAN", []Product{
			with(func(p *Product) { p.Barcode = "036000291452" }),
			with(func(p *Product) { p.SKU = "B"; p.Barcode = "0036000291452" }),
		}, ErrDuplicateBarcode},
		{"bad barcode", []Product{with(func(p *Product) { p.Barcode = "4006381333932" })}, ErrInvalidBarcode},
		{"negative price", []Product{with(func(p *Product) { p.Price = chf(-1) })}, ErrInvalidProduct},
		{"tax too high", []Product{with(func(p *Product) { p.TaxRate = 10001 })}, ErrInvalidProduct},
		{"empty name", []Product{with(func(p *Product) { p.Name = " " })}, ErrInvalidProduct},
		{"spaced sku", []Product{with(func(p *Product) { p.SKU = " A" })}, ErrInvalidProduct},
		{"other currency", []Product{with(func(p *Product) { p.Price = money.New(1, money.EUR) })}, money.ErrCurrencyMismatch},
	}
	for _, tt := range tests {
		if _, err := New(money.CHF, tt.products); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

const header = "sku,barcode,name,price,tax_rate,category\n"

var loadTests = []struct {
	name string
	csv  string
	n    int      // products when ok
	errs []string // substrings expected in the error, in order
	is   error
}{
	{"ok", header + "A,4006381333931,Espresso,4.20,2.6,Hot\nB,,\"Tee, grün\",4,8.1 %,Hot\n", 2, nil, nil},
	{"columns any order and case, BOM", "\ufeffCategory,Name,SKU,Price,Tax_Rate\nHot,Espresso,A,4.20,2.6\n", 1, nil, nil},
	{"bad price", header + "A,,Espresso,4.20,2.6,Hot\nB,,Tee,\"12,5x\",2.6,Hot\n", 0,
		[]string{`catalog.csv row 3: price "12,5x": unexpected 'x': invalid amount`}, money.ErrSyntax},
	{"all errors collected", header +
		"A,,Espresso,4.20,2.6,Hot\n" +
		"A,,Dup,1,2.6,Hot\n" +
		"C,4006381333932,Bad code,1,2.6,Hot\n" +
		"D,,Too precise,1.234,2.6,Hot\n" +
		"E,,,1,200,\n", 0,
		[]string{
			"catalog.csv row 3: product A: SKU already used by \"Espresso\"",
			"catalog.csv row 4: barcode \"4006381333932\"",
			"catalog.csv row 5: price \"1.234\"",
			"catalog.csv row 6: name \"\": required",
			"catalog.csv row 6: category \"\": required",
			"catalog.csv row 6: tax_rate \"200\": tax rate above 100 %",
		}, ErrDuplicateSKU},
	{"field count", header + "A,,Espresso,4.20,2.6\n", 0, []string{"catalog.csv row 2: 5 fields, header has 6"}, ErrCSV},
	{"unknown column", "sku,name,price,tax,category\n", 0, []string{`row 1: unknown column "tax"`}, ErrCSV},
	{"missing column", "sku,name,price,category\n", 0, []string{"missing column(s) tax_rate"}, ErrCSV},
	{"empty", "", 0, []string{"empty file"}, ErrCSV},
	{"header only", header, 0, []string{"no products"}, ErrCSV},
	{"bad quoting", header + "A,,\"Espresso,4.20,2.6,Hot\n", 0, []string{"catalog.csv row 2"}, ErrCSV},
	{"negative price", header + "A,,Espresso,-4.20,2.6,Hot\n", 0, []string{`price "-4.20"`}, money.ErrNegative},
}

func TestLoadCSV(t *testing.T) {
	for _, tt := range loadTests {
		c, err := LoadCSV(strings.NewReader(tt.csv), money.CHF)
		if tt.errs == nil {
			if err != nil || c.Len() != tt.n {
				t.Errorf("%s: LoadCSV = %v, %v; want %d products", tt.name, c, err, tt.n)
			}
			continue
		}
		if err == nil || c != nil {
			t.Errorf("%s: LoadCSV succeeded, want error", tt.name)
			continue
		}
		msg := err.Error()
		at := 0
		for _, want := range tt.errs {
			i := strings.Index(msg[at:], want)
			if i < 0 {
				t.Errorf("%s: error\n%s\ndoes not contain (in order) %q", tt.name, msg, want)
				break
			}
			at += i + len(want)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: error %v is not %v", tt.name, err, tt.is)
		}
	}
}

func TestLoadCSVFileName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices-2026.csv")
	if err := os.WriteFile(path, []byte(header+"A,,x,1,2.6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = LoadCSV(f, money.CHF)
	if err == nil || !strings.HasPrefix(err.Error(), "prices-2026.csv row 2:") {
		t.Errorf("err = %v, want it to name prices-2026.csv row 2", err)
	}
}

func TestLoadCSVBoundsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < 500; i++ {
		b.WriteString("A,,x,bad,2.6,c\n")
	}
	_, err := LoadCSV(strings.NewReader(b.String()), money.CHF)
	if err == nil || strings.Count(err.Error(), "\n") != maxRowErrors || !strings.Contains(err.Error(), "450 more rows") {
		t.Errorf("got %d error lines, want %d plus a summary: %.300v", strings.Count(err.Error(), "\n"), maxRowErrors, err)
	}
}

func TestDemo(t *testing.T) {
	c, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() < 25 || c.Len() > 40 {
		t.Errorf("demo has %d products, want about 30", c.Len())
	}
	if got := c.Categories(); len(got) != 4 {
		t.Errorf("demo categories = %v, want 4", got)
	}
	if c.Currency() != money.CHF {
		t.Errorf("demo currency = %v", c.Currency())
	}
	barcodes := 0
	for _, p := range c.Products() {
		if p.TaxRate != 260 && p.TaxRate != 810 {
			t.Errorf("%s: tax rate %d bp is not a Swiss rate", p.SKU, p.TaxRate)
		}
		if p.Barcode != "" {
			barcodes++
		}
	}
	if barcodes < 10 {
		t.Errorf("only %d demo products have barcodes", barcodes)
	}
	if p, ok := c.Lookup("FOO-BIR"); !ok || p.Price != chf(750) {
		t.Errorf("Lookup(FOO-BIR) = %v, %v", p, ok)
	}
}

// FuzzLoadCSV: arbitrary bytes never panic, and a catalog that loads has
// only valid, unique products.
func FuzzLoadCSV(f *testing.F) {
	for _, tt := range loadTests {
		f.Add([]byte(tt.csv))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadCSV(strings.NewReader(string(data)), money.CHF)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range c.Products() {
			if err := p.Validate(); err != nil {
				t.Fatalf("loaded invalid product: %v", err)
			}
			if seen[p.SKU] {
				t.Fatalf("duplicate SKU %s loaded", p.SKU)
			}
			seen[p.SKU] = true
		}
	})
}

func BenchmarkSearch(b *testing.B) {
	c, err := Demo()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Search("müesli")
	}
}
