// Command till is the Till point-of-sale desktop app. It only hands over to
// package app, the composition root, so `go run .` and `fyne package` both
// work from the repository root.
package main

import (
	"os"

	"github.com/tillpos/till/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}
