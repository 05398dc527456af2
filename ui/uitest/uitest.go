// Package uitest holds helpers for tests of Fyne screens, shared by the
// ui package, the app and the commands that have windows.
package uitest

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// ShownTexts lists the visible text drawn in o, in layout order, skipping
// hidden objects and everything inside them. Each widget gets a fresh
// renderer, as test.LaidOutObjects does, so the texts are the widget's
// current state without waiting for a paint.
func ShownTexts(o fyne.CanvasObject) []string {
	var out []string
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if !o.Visible() {
			return
		}
		switch c := o.(type) {
		case *canvas.Text:
			if c.Text != "" {
				out = append(out, c.Text)
			}
		case fyne.Widget:
			r := c.CreateRenderer()
			r.Layout(c.Size())
			for _, child := range r.Objects() {
				walk(child)
			}
		case *fyne.Container:
			for _, child := range c.Objects {
				walk(child)
			}
		}
	}
	walk(o)
	return out
}

// Button finds the visible, enabled-or-not button whose text is label, or
// nil. Tests tap it with test.Tap, as a cashier would.
func Button(o fyne.CanvasObject, label string) *widget.Button {
	var found *widget.Button
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil || !o.Visible() {
			return
		}
		switch c := o.(type) {
		case *widget.Button:
			if c.Text == label {
				found = c
			}
		case fyne.Widget:
			r := c.CreateRenderer()
			for _, child := range r.Objects() {
				walk(child)
			}
		case *fyne.Container:
			for _, child := range c.Objects {
				walk(child)
			}
		}
	}
	walk(o)
	return found
}

// SelectRow selects row of the first visible list in o (a widget.List or
// a widget embedding one), as a tap on that row does, and reports whether
// there was a list.
func SelectRow(o fyne.CanvasObject, row widget.ListItemID) bool {
	type selecter interface {
		fyne.Widget
		Select(widget.ListItemID)
	}
	var found selecter
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil || !o.Visible() {
			return
		}
		switch c := o.(type) {
		case selecter:
			found = c
		case fyne.Widget:
			r := c.CreateRenderer()
			for _, child := range r.Objects() {
				walk(child)
			}
		case *fyne.Container:
			for _, child := range c.Objects {
				walk(child)
			}
		}
	}
	walk(o)
	if found == nil {
		return false
	}
	found.Select(row)
	return true
}

// All lists the visible objects of type T in o, in layout order, whose
// match is true (nil matches all). It does not look inside a match.
func All[T fyne.CanvasObject](o fyne.CanvasObject, match func(T) bool) []T {
	var out []T
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if t, ok := o.(T); ok && (match == nil || match(t)) {
			out = append(out, t)
			return
		}
		switch c := o.(type) {
		case fyne.Widget:
			for _, child := range test.WidgetRenderer(c).Objects() {
				walk(child)
			}
		case *fyne.Container:
			for _, child := range c.Objects {
				walk(child)
			}
		}
	}
	walk(o)
	return out
}

// Radio finds the visible radio group offering option, or nil.
func Radio(o fyne.CanvasObject, option string) *widget.RadioGroup {
	rs := All(o, func(r *widget.RadioGroup) bool { return slices.Contains(r.Options, option) })
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

// Entries lists the visible text entries in o, in layout order.
func Entries(o fyne.CanvasObject) []*widget.Entry {
	return All[*widget.Entry](o, nil)
}
