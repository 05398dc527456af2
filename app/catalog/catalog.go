package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/tillpos/till/app/money"
)

// Sentinel errors, wrapped with the product or row they concern.
var (
	// ErrInvalidProduct: a required field is missing or out of range.
	ErrInvalidProduct = errors.New("invalid product")
	// ErrInvalidBarcode: a numeric EAN-8, UPC-A, EAN-13 or GTIN-14 code
	// whose check digit is wrong, or a code with spaces or control
	// characters.
	ErrInvalidBarcode = errors.New("invalid barcode")
	// ErrDuplicateSKU: two products share a SKU.
	ErrDuplicateSKU = errors.New("duplicate SKU")
	// ErrDuplicateBarcode: two products share a barcode (a UPC-A code and
	// the same code as EAN-13 with a leading 0 count as equal).
	ErrDuplicateBarcode = errors.New("duplicate barcode")
	// ErrCSV: the CSV file itself is malformed (header, quoting, columns).
	ErrCSV = errors.New("malformed catalog CSV")
)

// MaxTaxRate is 100 % in basis points.
const MaxTaxRate = 10_000

// Product is one thing the till sells. Price is the unit price as the
// store prices it (tax included or not is the store's configuration, see
// package order); TaxRate is in basis points (810 = 8.1 %).
type Product struct {
	SKU      string      `json:"sku"`
	Barcode  string      `json:"barcode,omitempty"`
	Name     string      `json:"name"`
	Price    money.Money `json:"price"`
	TaxRate  int         `json:"tax_rate_bp"`
	Category string      `json:"category"`
}

// Validate checks one product on its own: non-empty trimmed SKU (at most 64
// bytes), name and category, a price in a known currency that is not
// negative, a tax rate in [0, MaxTaxRate] and a valid barcode if any.
func (p Product) Validate() error {
	switch {
	case p.SKU == "" || strings.TrimSpace(p.SKU) != p.SKU || len(p.SKU) > 64:
		return fmt.Errorf("product %q: SKU must be 1-64 bytes without surrounding spaces: %w", p.SKU, ErrInvalidProduct)
	case strings.TrimSpace(p.Name) == "":
		return fmt.Errorf("product %s: empty name: %w", p.SKU, ErrInvalidProduct)
	case strings.TrimSpace(p.Category) == "":
		return fmt.Errorf("product %s: empty category: %w", p.SKU, ErrInvalidProduct)
	case p.Price.Currency.IsZero():
		return fmt.Errorf("product %s: price has no currency: %w", p.SKU, ErrInvalidProduct)
	case p.Price.Amount < 0:
		return fmt.Errorf("product %s: negative price %v: %w", p.SKU, p.Price, ErrInvalidProduct)
	case p.TaxRate < 0 || p.TaxRate > MaxTaxRate:
		return fmt.Errorf("product %s: tax rate %d bp outside 0-%d: %w", p.SKU, p.TaxRate, MaxTaxRate, ErrInvalidProduct)
	}
	if p.Barcode != "" {
		if err := ValidateBarcode(p.Barcode); err != nil {
			return fmt.Errorf("product %s: %w", p.SKU, err)
		}
	}
	return nil
}

// ValidateBarcode accepts any code of printable characters without spaces
// (shops label their own goods with internal codes), but a purely numeric
// code of 8, 12, 13 or 14 digits is a GTIN (EAN-8, UPC-A, EAN-13, GTIN-14)
// and its check digit must be right.
func ValidateBarcode(code string) error {
	if code == "" || len(code) > 64 || !utf8.ValidString(code) {
		return fmt.Errorf("barcode %q: %w", code, ErrInvalidBarcode)
	}
	numeric := true
	for _, r := range code {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("barcode %q contains spaces or control characters: %w", code, ErrInvalidBarcode)
		}
		if r < '0' || r > '9' {
			numeric = false
		}
	}
	if !numeric {
		return nil
	}
	switch len(code) {
	case 8, 12, 13, 14:
		want := gtinCheckDigit(code[:len(code)-1])
		if got := code[len(code)-1]; got != want {
			return fmt.Errorf("barcode %s: check digit is %c, expected %c: %w", code, got, want, ErrInvalidBarcode)
		}
	}
	return nil
}

// gtinCheckDigit computes the GS1 mod-10 check digit: from the right,
// digits are weighted 3, 1, 3, 1, ….
func gtinCheckDigit(body string) byte {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// normalizeBarcode maps a UPC-A code to its EAN-13 form (leading 0), the
// form a scanner may send for the same item.
func normalizeBarcode(code string) string {
	if len(code) == 12 && strings.Trim(code, "0123456789") == "" {
		return "0" + code
	}
	return code
}

// Catalog is an immutable, validated set of products of one currency. It
// is safe for concurrent use.
type Catalog struct {
	currency   money.Currency
	products   []Product
	bySKU      map[string]int
	byBarcode  map[string]int
	categories []string
	byCategory map[string][]int
	folded     []string // search keys: folded name and SKU
}

// New builds a Catalog from products in the order given; categories keep
// the order of their first product. Every product must be valid and priced
// in currency; SKUs and barcodes must be unique. All problems are reported
// together (errors.Join), each naming its product.
func New(currency money.Currency, products []Product) (*Catalog, error) {
	if currency.IsZero() {
		return nil, fmt.Errorf("catalog: %w", money.ErrUnknownCurrency)
	}
	c := &Catalog{
		currency:   currency,
		products:   slices.Clone(products),
		bySKU:      make(map[string]int, len(products)),
		byBarcode:  make(map[string]int, len(products)),
		byCategory: make(map[string][]int),
		folded:     make([]string, len(products)),
	}
	var errs []error
	for i, p := range c.products {
		if err := c.add(i, p); err != nil {
			errs = append(errs, fmt.Errorf("catalog: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// add indexes product i; it is also used by LoadCSV for per-row errors.
func (c *Catalog) add(i int, p Product) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Price.Currency != c.currency {
		return fmt.Errorf("product %s: price in %s, catalog is in %s: %w", p.SKU, p.Price.Currency, c.currency, money.ErrCurrencyMismatch)
	}
	if j, dup := c.bySKU[p.SKU]; dup {
		return fmt.Errorf("product %s: SKU already used by %q: %w", p.SKU, c.products[j].Name, ErrDuplicateSKU)
	}
	if p.Barcode != "" {
		key := normalizeBarcode(p.Barcode)
		if j, dup := c.byBarcode[key]; dup {
			return fmt.Errorf("product %s: barcode %s already used by %s: %w", p.SKU, p.Barcode, c.products[j].SKU, ErrDuplicateBarcode)
		}
		c.byBarcode[key] = i
	}
	c.bySKU[p.SKU] = i
	if _, seen := c.byCategory[p.Category]; !seen {
		c.categories = append(c.categories, p.Category)
	}
	c.byCategory[p.Category] = append(c.byCategory[p.Category], i)
	c.folded[i] = fold(p.Name) + "\x00" + fold(p.SKU)
	return nil
}

// Currency returns the catalog's currency.
func (c *Catalog) Currency() money.Currency { return c.currency }

// Len returns the number of products.
func (c *Catalog) Len() int { return len(c.products) }

// Products returns all products in catalog order (a copy).
func (c *Catalog) Products() []Product { return slices.Clone(c.products) }

// BySKU returns the product with the given SKU.
func (c *Catalog) BySKU(sku string) (Product, bool) {
	i, ok := c.bySKU[sku]
	if !ok {
		return Product{}, false
	}
	return c.products[i], true
}

// ByBarcode returns the product with the given barcode; a UPC-A code also
// finds the product registered under its EAN-13 form and vice versa.
func (c *Catalog) ByBarcode(code string) (Product, bool) {
	i, ok := c.byBarcode[normalizeBarcode(strings.TrimSpace(code))]
	if !ok {
		return Product{}, false
	}
	return c.products[i], true
}

// Lookup finds what a scanner or a cashier typed: a barcode first, then a
// SKU.
func (c *Catalog) Lookup(code string) (Product, bool) {
	if p, ok := c.ByBarcode(code); ok {
		return p, true
	}
	return c.BySKU(strings.TrimSpace(code))
}

// Categories returns the category names in catalog order (a copy).
func (c *Catalog) Categories() []string { return slices.Clone(c.categories) }

// InCategory returns the products of a category in catalog order, or nil.
func (c *Catalog) InCategory(category string) []Product {
	idx := c.byCategory[category]
	if len(idx) == 0 {
		return nil
	}
	out := make([]Product, len(idx))
	for k, i := range idx {
		out[k] = c.products[i]
	}
	return out
}

// Search returns, in catalog order, the products whose name or SKU
// contains query, ignoring case and accents ("muesli" finds
// "Birchermüesli", "CAFE" finds "Café crème"). An empty or blank query
// returns every product.
func (c *Catalog) Search(query string) []Product {
	q := fold(strings.TrimSpace(query))
	var out []Product
	for i, key := range c.folded {
		if strings.Contains(key, q) {
			out = append(out, c.products[i])
		}
	}
	return out
}

// fold makes the search key: Unicode case folding, then canonical
// decomposition with the combining marks removed.
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), cases.Fold(), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return strings.ToLower(s)
	}
	return out
}
