package report

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

func decode(t *testing.T, r Report) image.Image {
	t.Helper()
	var buf bytes.Buffer
	must(t, r.WritePNG(&buf))
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	return img
}

// ink counts the black pixels and checks there are only black and white.
func ink(t *testing.T, img image.Image) int {
	t.Helper()
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			switch {
			case r == 0 && g == 0 && bb == 0:
				n++
			case r == 0xffff && g == 0xffff && bb == 0xffff:
			default:
				t.Fatalf("pixel (%d,%d) is grey: %v", x, y, img.At(x, y))
			}
		}
	}
	return n
}

func TestWritePNG(t *testing.T) {
	r, err := Make(fullDay(t))
	must(t, err)
	var buf bytes.Buffer
	must(t, r.WritePNG(&buf))
	if *update {
		must(t, os.WriteFile("testdata/fullday.png", buf.Bytes(), 0o644))
	}

	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	must(t, err)
	b := img.Bounds()
	if b.Dx() != PNGWidth {
		t.Errorf("width %d, want %d", b.Dx(), PNGWidth)
	}
	rows := layout(r.Lines(), (PNGWidth-2*pngMargin)/12, func(rune) bool { return true })
	if b.Dy() < len(rows)*20 {
		t.Errorf("height %d for %d rows", b.Dy(), len(rows))
	}
	// Text covers a few percent of a receipt; neither blank nor solid.
	if n := ink(t, img); n < b.Dx()*b.Dy()/100 || n > b.Dx()*b.Dy()/4 {
		t.Errorf("%d black pixels of %d", n, b.Dx()*b.Dy())
	}
	// The margins stay white.
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for _, x := range []int{0, pngMargin - 1, PNGWidth - pngMargin, PNGWidth - 1} {
			if r, _, _, _ := img.At(x, y).RGBA(); r == 0 {
				t.Fatalf("ink in the margin at (%d,%d)", x, y)
			}
		}
	}
}

// TestWritePNGGolden compares the picture with testdata/fullday.png pixel
// by pixel (not byte by byte: a new zlib in the standard library may
// compress the same picture differently). Regenerate with -update.
func TestWritePNGGolden(t *testing.T) {
	r, err := Make(fullDay(t))
	must(t, err)
	got := decode(t, r)
	want, err := readPNG("testdata/fullday.png")
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v, golden %v", got.Bounds(), want.Bounds())
	}
	diff := 0
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, _, _, _ := got.At(x, y).RGBA()
			r2, _, _, _ := want.At(x, y).RGBA()
			if r1 != r2 {
				diff++
			}
		}
	}
	if diff != 0 {
		out := filepath.Join(t.TempDir(), "fullday.png")
		f, err := os.Create(out)
		must(t, err)
		must(t, png.Encode(f, got))
		must(t, f.Close())
		t.Errorf("%d pixels differ from the golden image; got written to %s", diff, out)
	}
}

func TestWritePNGLocalesAndEmpty(t *testing.T) {
	for _, tag := range []string{"fr-FR", "en-US", "ja-JP", "ar-EG", "he-IL"} {
		t.Run(tag, func(t *testing.T) {
			in := fullDay(t)
			in.Locale = language.MustParse(tag)
			r, err := Make(in)
			must(t, err)
			img := decode(t, r)
			if img.Bounds().Dx() != PNGWidth || ink(t, img) == 0 {
				t.Fatalf("bounds %v", img.Bounds())
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		r, err := Make(baseInput())
		must(t, err)
		if img := decode(t, r); ink(t, img) == 0 {
			t.Fatal("blank")
		}
	})
}

func TestWritePNGReportsWriteErrors(t *testing.T) {
	r, err := Make(baseInput())
	must(t, err)
	disk := errors.New("disk full")
	if err := r.WritePNG(failingWriter{disk}); !errors.Is(err, disk) {
		t.Fatalf("err = %v", err)
	}
}

func TestPrintable(t *testing.T) {
	has := func(c rune) bool { return c < 0x2000 || c == '€' }
	tests := []struct{ in, want string }{
		{"CHF\u00a01’234.50", "CHF\u00a01'234.50"},
		{"1\u202f234,50\u00a0€", "1 234,50\u00a0€"},
		{"\u200f-5.00", "-5.00"}, // a bidi mark is dropped
		{"￥1,235", "¥1,235"},
		{"e\u0301", "é"}, // composed, one cell
		{"日本", "??"},
		{"a\tb", "a b"},
	}
	for _, tc := range tests {
		if got := string(printable(tc.in, has)); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLayout(t *testing.T) {
	has := func(rune) bool { return true }
	tests := []struct {
		name string
		line Line
		cols int
		want []string
	}{
		{"label and value", Line{Label: "Gross", Value: "CHF 5.00"}, 20, []string{"Gross       CHF 5.00"}},
		{"label only", Line{Label: "Payments", Heading: true}, 20, []string{"Payments"}},
		{"exactly full", Line{Label: "Cash rounding", Value: "CHF 0.02"}, 22, []string{"Cash rounding CHF 0.02"}},
		{"value on its own row", Line{Label: "Cash rounding", Value: "CHF 0.02"}, 21, []string{"Cash rounding", "             CHF 0.02"}},
		{"long label wraps at spaces", Line{Label: "Cancelled, requested by customer (12)", Value: "CHF 1.00"}, 20,
			[]string{"Cancelled, requested", "by customer (12)", "            CHF 1.00"}},
		{"a word longer than the row is cut", Line{Label: "Cancelled, requested_by_customer", Value: "1"}, 16,
			[]string{"Cancelled,", "requested_by_cus", "tomer          1"}},
		{"a value longer than the row", Line{Label: "X", Value: "0123456789"}, 6, []string{"X", "012345", "  6789"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range layout([]Line{tc.line}, tc.cols, has) {
				got = append(got, strings.TrimRight(string(r.text), " "))
				if len(r.text) > tc.cols {
					t.Errorf("row %q longer than %d", string(r.text), tc.cols)
				}
				if r.bold != tc.line.Heading {
					t.Errorf("bold = %v", r.bold)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("rows\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	if rows := layout([]Line{{Rule: true}}, 10, has); len(rows) != 1 || !rows[0].rule {
		t.Errorf("rule rows = %+v", rows)
	}
}

func readPNG(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return png.Decode(bytes.NewReader(b))
}
