//go:build tools

// This file pins modules that later code imports, so go.mod and go.sum are
// complete before that code exists. It is never built.
package main

import (
	_ "fyne.io/fyne/v2/app"
	_ "fyne.io/fyne/v2/test"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/oklog/ulid/v2"
	_ "github.com/stripe/stripe-go/v86"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/text/currency"
	_ "golang.org/x/text/language"
	_ "golang.org/x/text/message"
)
