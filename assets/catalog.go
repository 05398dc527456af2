package assets

import _ "embed"

// DemoCatalogCSV is the demo catalog: a take-away café in Switzerland with
// about thirty products in four categories, prices in CHF and Swiss VAT
// rates (2.6 % for food and non-alcoholic drinks sold to take away, 8.1 %
// for alcoholic drinks). The format is the one catalog.LoadCSV reads.
//
//go:embed catalog.csv
var DemoCatalogCSV []byte
