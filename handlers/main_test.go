package handlers

import (
	"testing"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// One Azurite and one Service Bus stand-in serve the whole test binary; each test gets tables of
// its own (see newApp), and tests that count events a stand-in of their own.
func TestMain(m *testing.M) { testenv.MainWithServiceBus(m) }
