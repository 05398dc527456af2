package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// Receipt geometry: 80 mm thermal printers print 576 dots a line at
// 203 dpi. Go Mono at 20 px advances exactly 12 px a character, so a line
// holds (576 − 2×12) / 12 = 46 characters, close to the 48 of a printer's
// own font A.
const (
	PNGWidth   = 576
	pngMargin  = 12
	pngSize    = 20 // font size in pixels (points at 72 dpi)
	pngLeading = 6  // extra pixels between lines
)

type fonts struct{ regular, bold *opentype.Font }

var loadFonts = sync.OnceValues(func() (fonts, error) {
	r, err := opentype.Parse(gomono.TTF)
	if err != nil {
		return fonts{}, err
	}
	b, err := opentype.Parse(gomonobold.TTF)
	if err != nil {
		return fonts{}, err
	}
	return fonts{r, b}, nil
})

// row is one printed line: cells of text, or a rule.
type row struct {
	text []rune
	bold bool
	rule bool
}

// WritePNG renders Lines as a black-and-white (1 bit per pixel) PNG
// PNGWidth pixels wide, in Go Mono, for an 80 mm receipt printer: labels
// left, values right, headings in bold, long labels wrapped. Characters
// the font lacks are replaced by a close equivalent (a narrow no-break
// space by a space, "￥" by "¥") or by "?".
func (r Report) WritePNG(w io.Writer) error {
	img, err := r.image()
	if err != nil {
		return fmt.Errorf("report: render PNG: %w", err)
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("report: write PNG: %w", err)
	}
	return nil
}

func (r Report) image() (*image.Paletted, error) {
	fs, err := loadFonts()
	if err != nil {
		return nil, err
	}
	opts := &opentype.FaceOptions{Size: pngSize, DPI: 72, Hinting: font.HintingFull}
	regular, err := opentype.NewFace(fs.regular, opts)
	if err != nil {
		return nil, err
	}
	bold, err := opentype.NewFace(fs.bold, opts)
	if err != nil {
		return nil, err
	}
	cell, _ := regular.GlyphAdvance('0')
	cellW := cell.Round()
	cols := (PNGWidth - 2*pngMargin) / cellW
	rows := layout(r.Lines(), cols, func(c rune) bool { _, ok := regular.GlyphAdvance(c); return ok })

	m := regular.Metrics()
	lineH := (m.Ascent + m.Descent).Ceil() + pngLeading
	ruleH := lineH / 2
	height := 2 * pngMargin
	for _, rw := range rows {
		if rw.rule {
			height += ruleH
		} else {
			height += lineH
		}
	}
	gray := image.NewGray(image.Rect(0, 0, PNGWidth, height))
	draw.Draw(gray, gray.Bounds(), image.White, image.Point{}, draw.Src)
	y := pngMargin
	for _, rw := range rows {
		if rw.rule {
			mid := y + ruleH/2
			draw.Draw(gray, image.Rect(pngMargin, mid-1, PNGWidth-pngMargin, mid+1), image.Black, image.Point{}, draw.Src)
			y += ruleH
			continue
		}
		face := regular
		if rw.bold {
			face = bold
		}
		base := y + pngLeading/2 + m.Ascent.Ceil()
		for i, c := range rw.text {
			if c == ' ' {
				continue
			}
			dot := fixed.P(pngMargin+i*cellW, base)
			dr, mask, mp, _, ok := face.Glyph(dot, c)
			if !ok {
				continue
			}
			draw.DrawMask(gray, dr, image.Black, image.Point{}, mask, mp, draw.Over)
		}
		y += lineH
	}
	// Thermal printers print dots, not greys: threshold at half.
	out := image.NewPaletted(gray.Bounds(), color.Palette{color.White, color.Black})
	for i, v := range gray.Pix {
		if v < 0x80 {
			out.Pix[i] = 1
		}
	}
	return out, nil
}

// substitutes are stand-ins for characters money and date formatting
// produce that a receipt font may lack.
var substitutes = map[rune]rune{
	'\u202f': ' ', '\u00a0': ' ', '\u2009': ' ', '\u2007': ' ', // spaces
	'\u2019': '\'', '\u2212': '-', '\u2013': '-', '\uffe5': '¥', '\uffe1': '£', '\u00d7': 'x',
}

// printable turns s into one rune per cell: NFC-composed, format
// characters (bidi marks) dropped, unknown characters substituted.
func printable(s string, has func(rune) bool) []rune {
	out := make([]rune, 0, len(s))
	for _, c := range norm.NFC.String(s) {
		switch {
		case unicode.Is(unicode.Cf, c):
			continue
		case unicode.IsSpace(c) && c != '\u00a0' && c != '\u202f':
			c = ' '
		case !has(c):
			if s, ok := substitutes[c]; ok && (s == ' ' || has(s)) {
				c = s
			} else {
				c = '?'
			}
		}
		out = append(out, c)
	}
	return out
}

// layout places the lines in rows of cols cells: the label from the left,
// wrapped at spaces, and the value flush right on the label's last row, or
// on a row of its own when it does not fit there.
func layout(lines []Line, cols int, has func(rune) bool) []row {
	var rows []row
	for _, l := range lines {
		if l.Rule {
			rows = append(rows, row{rule: true})
			continue
		}
		label := wrap(printable(l.Label, has), cols)
		value := printable(l.Value, has)
		if len(value) > cols {
			for _, part := range wrap(value, cols) {
				label = append(label, pad(part, cols))
			}
			value = nil
		}
		last := label[len(label)-1]
		if len(value) > 0 {
			if len(strings.TrimRight(string(last), " "))+1+len(value) > cols {
				label = append(label, nil)
			}
			label[len(label)-1] = place(label[len(label)-1], value, cols)
		}
		for _, t := range label {
			rows = append(rows, row{text: t, bold: l.Heading})
		}
	}
	return rows
}

// place puts value flush right in a row that starts with text.
func place(text, value []rune, cols int) []rune {
	out := make([]rune, cols)
	for i := range out {
		out[i] = ' '
	}
	copy(out, text)
	copy(out[cols-len(value):], value)
	return out
}

func pad(text []rune, cols int) []rune {
	return place(nil, text, cols)
}

// wrap breaks s into rows of at most cols runes, at spaces where it can,
// keeping leading indentation on the first row only. It always returns at
// least one (possibly empty) row.
func wrap(s []rune, cols int) [][]rune {
	var out [][]rune
	for len(s) > cols {
		cut := -1
		for i := cols; i > 0; i-- {
			if s[i] == ' ' && s[i-1] != ' ' {
				cut = i
				break
			}
		}
		if cut < 0 {
			out, s = append(out, s[:cols]), s[cols:]
			continue
		}
		out = append(out, s[:cut])
		s = s[cut:]
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
	}
	return append(out, s)
}
