// Package uitest holds helpers for tests of Fyne screens, shared by the
// ui package, the app and the commands that have windows.
package uitest

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
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
