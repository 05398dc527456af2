package catalog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/assets"
)

// Columns of the catalog CSV, matched case-insensitively in any order.
// barcode may be left empty; all others are required.
var columns = []string{"sku", "barcode", "name", "price", "tax_rate", "category"}

// maxRowErrors bounds the errors LoadCSV collects, so a wrong file (say, a
// bank export) gives a readable report rather than thousands of lines.
const maxRowErrors = 50

// RowError is a problem with one row of a catalog CSV. Row counts lines of
// the file from 1 (the header), as a spreadsheet shows them.
type RowError struct {
	Source string // file name, "catalog.csv" when unknown
	Row    int
	Column string // "" when the error concerns the whole row
	Value  string
	Err    error
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("%s row %d: %v", e.Source, e.Row, e.Err)
	}
	return fmt.Sprintf("%s row %d: %s %q: %v", e.Source, e.Row, e.Column, e.Value, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// LoadCSV reads a catalog from CSV: a header row naming the columns sku,
// barcode, name, price, tax_rate and category (any order, any case; no other
// columns), then one product per row. UTF-8 with or without BOM; "," as
// field separator and RFC 4180 quoting.
//
//   - price is read with money.Parse in cur for the root locale: "4.50",
//     "4,50", "1'250.00" all work; no minus sign.
//   - tax_rate is a percentage with at most two decimals, "%" optional:
//     "8.1", "2,6 %", "0".
//   - barcode is optional; numeric GTINs must have a valid check digit.
//
// Every problem is collected, not just the first: the returned error joins
// one *RowError per bad row (up to 50), e.g.
// `catalog.csv row 7: price "12,5x": …`. When r has a Name method (an
// *os.File) its base name replaces "catalog.csv". No catalog is returned
// unless every row is valid, so a bad import never half-replaces a good
// catalog.
func LoadCSV(r io.Reader, cur money.Currency) (*Catalog, error) {
	source := "catalog.csv"
	if n, ok := r.(interface{ Name() string }); ok && n.Name() != "" {
		source = filepath.Base(n.Name())
	}
	if cur.IsZero() {
		return nil, fmt.Errorf("load %s: %w", source, money.ErrUnknownCurrency)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // the header fixes the count
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("load %s: empty file, expected a header row: %w", source, ErrCSV)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w: %w", source, ErrCSV, err)
	}
	col, err := mapHeader(header)
	if err != nil {
		return nil, fmt.Errorf("load %s row 1: %w", source, err)
	}

	c := &Catalog{
		currency:   cur,
		bySKU:      make(map[string]int),
		byBarcode:  make(map[string]int),
		byCategory: make(map[string][]int),
	}
	parser := money.Parser{Currency: cur, Locale: language.Und}
	var errs []error
	more := 0
	report := func(e *RowError) {
		if len(errs) < maxRowErrors {
			errs = append(errs, e)
		} else {
			more++
		}
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err == csv.ErrFieldCount {
				report(&RowError{Source: source, Row: pe.StartLine, Err: fmt.Errorf("%d fields, header has %d: %w", len(rec), len(header), ErrCSV)})
				continue
			}
			// Quoting errors leave the reader out of step: stop here.
			line := 0
			if pe != nil {
				line = pe.StartLine
			}
			report(&RowError{Source: source, Row: line, Err: fmt.Errorf("%w: %w", ErrCSV, err)})
			break
		}
		row, _ := cr.FieldPos(0)
		p, rowErrs := parseRow(rec, col, parser)
		for _, e := range rowErrs {
			e.Source, e.Row = source, row
			report(e)
		}
		if len(rowErrs) > 0 {
			continue
		}
		c.folded = append(c.folded, "")
		c.products = append(c.products, p)
		if err := c.add(len(c.products)-1, p); err != nil {
			c.products = c.products[:len(c.products)-1]
			c.folded = c.folded[:len(c.folded)-1]
			report(&RowError{Source: source, Row: row, Err: err})
		}
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("%s: %d more rows with errors not shown", source, more))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(c.products) == 0 {
		return nil, fmt.Errorf("load %s: no products: %w", source, ErrCSV)
	}
	return c, nil
}

func mapHeader(header []string) (map[string]int, error) {
	col := make(map[string]int, len(columns))
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(columns, name) {
			return nil, fmt.Errorf("unknown column %q (expected %s): %w", h, strings.Join(columns, ", "), ErrCSV)
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("column %q appears twice: %w", name, ErrCSV)
		}
		col[name] = i
	}
	var missing []string
	for _, name := range columns {
		if _, ok := col[name]; !ok && name != "barcode" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing column(s) %s: %w", strings.Join(missing, ", "), ErrCSV)
	}
	return col, nil
}

// parseRow converts one record; it returns every field error of the row.
func parseRow(rec []string, col map[string]int, parser money.Parser) (Product, []*RowError) {
	get := func(name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var errs []*RowError
	bad := func(column, value string, err error) {
		errs = append(errs, &RowError{Column: column, Value: value, Err: err})
	}
	p := Product{
		SKU:      get("sku"),
		Barcode:  get("barcode"),
		Name:     get("name"),
		Category: get("category"),
	}
	for _, f := range []struct{ name, v string }{{"sku", p.SKU}, {"name", p.Name}, {"category", p.Category}} {
		if f.v == "" {
			bad(f.name, f.v, fmt.Errorf("required: %w", ErrInvalidProduct))
		}
	}
	if p.Barcode != "" {
		if err := ValidateBarcode(p.Barcode); err != nil {
			bad("barcode", p.Barcode, err)
		}
	}
	price, err := parser.Parse(get("price"))
	if err != nil {
		var pe *money.ParseError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", pe.Reason, pe.Err)
		}
		bad("price", get("price"), err)
	}
	p.Price = price
	rate, err := ParseTaxRate(get("tax_rate"))
	if err != nil {
		bad("tax_rate", get("tax_rate"), err)
	}
	p.TaxRate = rate
	return p, errs
}

// ParseTaxRate reads a percentage with at most two decimals ("8.1",
// "2,6 %", "7.70%", "0") as basis points (810, 260, 770, 0). No float is
// involved; rates above 100 % are refused.
func ParseTaxRate(s string) (int, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if t == "" {
		return 0, fmt.Errorf("empty tax rate: %w", ErrInvalidProduct)
	}
	whole, frac, hasFrac := strings.Cut(strings.Replace(t, ",", ".", 1), ".")
	if whole == "" || len(whole) > 3 || len(frac) > 2 || (hasFrac && frac == "") {
		return 0, fmt.Errorf("tax rate must be a percentage with at most two decimals, like 8.1: %w", ErrInvalidProduct)
	}
	bp := 0
	for _, d := range whole + (frac + "00")[:2] {
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("tax rate must be a percentage with at most two decimals, like 8.1: %w", ErrInvalidProduct)
		}
		bp = bp*10 + int(d-'0')
	}
	if bp > MaxTaxRate {
		return 0, fmt.Errorf("tax rate above 100 %%: %w", ErrInvalidProduct)
	}
	return bp, nil
}

// Demo returns the demo café catalog shipped in assets (CHF, Swiss VAT).
func Demo() (*Catalog, error) {
	c, err := LoadCSV(bytes.NewReader(assets.DemoCatalogCSV), money.CHF)
	if err != nil {
		return nil, fmt.Errorf("demo catalog: %w", err)
	}
	return c, nil
}
