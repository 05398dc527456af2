package reader

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// Client, session and transport must end what it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
