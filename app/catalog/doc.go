// Package catalog holds what a till sells: products with SKU, barcode, name,
// unit price, VAT rate and category, indexed for the cashier screen.
//
// # Basics
//
// A Catalog is built once, from a slice (New) or from CSV (LoadCSV), and is
// then read-only and safe for concurrent use. It looks products up by SKU
// and by barcode (Lookup tries both, for scanners and keyboards), lists the
// categories in the order the file introduces them and the products of each
// category, and searches names and SKUs ignoring case and accents.
//
// Demo returns the catalog embedded in package assets: a Swiss take-away
// café, about thirty products in four categories, priced in CHF.
//
// Tax rates are integers in basis points (810 = 8.1 %); prices are
// money.Money, never floats.
//
// # Caveats
//
// Loading validates everything and reports every bad row at once (as a
// joined list of *RowError naming file, row and column), but returns no
// catalog unless the whole file is good: a shop never rings up from half a
// price list.
//
// Numeric barcodes of 8, 12, 13 or 14 digits must carry a correct GS1 check
// digit. Other codes (store-internal labels) are taken as they are. A UPC-A
// code and its EAN-13 form (leading 0) are the same barcode.
//
// Whether a price includes VAT is the store's configuration, not the
// catalog's; see package order.
package catalog
