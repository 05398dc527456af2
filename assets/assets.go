// Package assets holds the files Till ships inside its binary: the
// application icon and the demo catalog a fresh install rings up with.
//
// Everything here is embedded at build time, so the app needs no data files
// beside the executable.
package assets

import _ "embed"

// Icon is the application icon (512×512 PNG). FyneApp.toml points at the same
// file so packaged builds and `go run .` show the same icon.
//
//go:embed icon.png
var Icon []byte
