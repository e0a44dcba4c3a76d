package handlers

import (
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// One Azurite serves the whole test binary; each test gets tables of its own (see newApp).
func TestMain(m *testing.M) { testenv.Main(m) }
