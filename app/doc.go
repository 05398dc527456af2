// Package app is Till's composition root and the home of its sale flows.
//
// # Basics
//
// Main parses flags, loads the Config, opens the Till and shows it in a Fyne
// window. A Till wires the pieces together — the bbolt store and outbox
// (package queue), the order and money domain (app/order, app/money), the
// catalog (app/catalog) — and hands itself to the screens in package ui
// through the small interfaces those screens define. There are no globals:
// everything a Till uses arrives through Params.
//
// A sale flow changes an order and enqueues the API operations the change
// causes in one store transaction, so a crash can never leave an order
// without its outbox entries or entries without their order.
//
// The Register is the cashier's side of a Till and implements the cashier
// screen's ui.Register: the current sale (kept in the store from its first
// line, so a restart resumes it), the card payment on the reader (one
// worker goroutine per attempt: wait for the outbox to create the
// PaymentIntent, collect, wait for the outbox to confirm), cash, voids, the
// manager's PIN for large discounts, and the reader's customer display.
// The card reader is built from Config.Reader: the built-in simulator, a
// USB reader, or the standalone simulator over TCP.
//
// # Caveats
//
// The API key lives only in Config.API.Key, a Secret that prints as a
// redaction. Nothing here writes it to the store, a log or an error.
package app
