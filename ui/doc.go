// Package ui holds Till's Fyne screens and widgets, and nothing else.
//
// # Basics
//
// Each screen is built from a params struct naming the small interfaces it
// depends on (defined here, next to the screen) and returns a
// fyne.CanvasObject to place in a window. The composition root in package
// app implements those interfaces over the store, the outbox, the reader and
// the API client; screens never call bbolt, gousb or HTTP themselves.
//
// # Caveats
//
// Anything that may block — disk, network, USB — runs on a goroutine the
// screen owns, never on Fyne's UI goroutine, and results reach widgets only
// through fyne.Do. Screens keep no business state: they render what their
// source returns and hand user intents back to it.
package ui
