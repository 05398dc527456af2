package ui

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// sourceKeys are the literal texts the package's code passes to lang.L.
func sourceKeys(t *testing.T) []string {
	t.Helper()
	// The catalogs carry the screens' texts and the app's messages for
	// them (package app formats card progress, declines and receipts).
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	appFiles, err := filepath.Glob("../app/*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, appFiles...)
	reportFiles, err := filepath.Glob("../app/report/*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, reportFiles...)
	keys := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "L" {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "lang" {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				keys[s] = true
			}
			return true
		})
	}
	// Tender kinds reach lang.L from the receipt's data.
	keys["Card"], keys["Cash"] = true, true
	return slices.Sorted(maps.Keys(keys))
}

// catalog reads one embedded catalog, checking that its keys are sorted.
func catalog(t *testing.T, tag string) map[string]string {
	t.Helper()
	data, err := translations.ReadFile("translations/" + tag + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s.json: %v", tag, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var order []string
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, k.(string))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("%s.json: keys not sorted", tag)
	}
	return m
}

var placeholder = regexp.MustCompile(`\{\{\s*\.\w+\s*\}\}`)

func TestCatalogsComplete(t *testing.T) {
	keys := sourceKeys(t)
	for _, tag := range shippedLanguages {
		m := catalog(t, tag)
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, keys) {
			t.Errorf("%s.json keys differ from the code's:\n got %q\nwant %q", tag, got, keys)
		}
		for k, v := range m {
			if tag == "en" && v != k {
				t.Errorf("en.json: %q translated as %q, want itself", k, v)
			}
			if want, got := slices.Sorted(slices.Values(placeholder.FindAllString(k, -1))),
				slices.Sorted(slices.Values(placeholder.FindAllString(v, -1))); !slices.Equal(got, want) {
				t.Errorf("%s.json: %q has placeholders %q, want %q", tag, v, got, want)
			}
		}
	}
}

func TestLoadTranslationsUnknownLanguage(t *testing.T) {
	if err := LoadTranslations("xx"); err == nil || !strings.Contains(err.Error(), `"xx"`) {
		t.Errorf("LoadTranslations(xx) = %v, want an error naming it", err)
	}
}

// fakeSettings holds the language behind a PIN.
type fakeSettings struct {
	mu    sync.Mutex
	lang  string
	tries int // SetLanguage calls
}

func (f *fakeSettings) Language() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lang
}
func (f *fakeSettings) Languages() []string { return []string{"en", "fr", "de"} }
func (f *fakeSettings) SetLanguage(tag, pin string) error {
	f.mu.Lock()
	f.tries++
	f.mu.Unlock()
	if pin != "4321" {
		return fmt.Errorf("%w: 2 tries left", ErrWrongPIN)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lang = tag
	return nil
}

// TestLanguage covers the override and the settings dialog. Translations
// are process-global: this test alone changes them, and puts English back.
func TestLanguage(t *testing.T) {
	t.Cleanup(func() {
		if err := LoadTranslations("en"); err != nil {
			t.Fatal(err)
		}
	})
	if err := LoadTranslations("de"); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		set := &fakeSettings{lang: "de"}
		s, w := startCashier(t, CashierParams{Register: reg, Settings: set})
		c := w.Canvas()
		button(t, c, "Karte (F5)")
		wantShown(t, c, "Zwischensumme", "Leser: bereit (Till Sim R1)")

		tap(button(t, c, "Einstellungen"))
		var choice *widget.Select
		for _, o := range objects(c) {
			if sel, ok := o.(*dialogSelect); ok {
				choice = &sel.Select
			}
		}
		if choice == nil || choice.Selected != "Deutsch" {
			t.Fatalf("language choice %v, want Deutsch selected", choice)
		}
		onUI(func() { choice.SetSelected("Français") })
		typeIn(c.Focused(), "1111")
		key(c, fyne.KeyReturn)
		wantShown(t, c, "wrong manager PIN: 2 tries left")
		typeIn(c.Focused(), "4321")
		key(c, fyne.KeyReturn)
		if set.Language() != "fr" || s.pop != nil {
			t.Fatalf("language %q, dialog open %v: want fr and closed", set.Language(), s.pop != nil)
		}
		button(t, c, "Carte (F5)")
		wantShown(t, c, "Sous-total", "Cappuccino", "CHF 9.80")
		if c.Focused() != s.scan {
			t.Errorf("the scan field lost the focus in the rebuilt screen")
		}
	})
}
