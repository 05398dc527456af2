// Package reader will hold Till's USB card-reader support: the open wire
// protocol (documented in docs/), a gousb transport behind a small seam, and
// a simulator that speaks the same protocol.
//
// # Caveats
//
// Nothing is implemented here yet; the app does not talk to a reader until
// this package lands. It never imports Fyne: it reports to the UI through
// typed events.
package reader
