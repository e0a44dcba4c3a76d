package main

import (
	"testing"

	"github.com/liveness-quicklink/functions/internal/config"
)

// The credential is made whenever any of Face, Tables or Service Bus authenticates with Entra ID,
// and only then (building it reads the environment for the default chain).
func TestCredentialWhenAnyServiceUsesEntraID(t *testing.T) {
	keyed := config.Config{FaceAPIKey: "k", TablesConnectionString: "AccountName=a", ServiceBusConnectionString: "Endpoint=sb://127.0.0.1"}
	tests := []struct {
		name string
		edit func(*config.Config)
		want bool
	}{
		{"every service by key or connection string", func(*config.Config) {}, false},
		{"Face by Entra ID", func(c *config.Config) { c.FaceAPIKey = "" }, true},
		{"Tables by Entra ID", func(c *config.Config) {
			c.TablesConnectionString, c.TablesEndpoint = "", "https://a.table.core.windows.net"
		}, true},
		{"Service Bus by Entra ID", func(c *config.Config) {
			c.ServiceBusConnectionString, c.ServiceBusNamespace = "", "sb-liveness.servicebus.windows.net"
		}, true},
	}
	for _, tt := range tests {
		cfg := keyed
		tt.edit(&cfg)
		cred, err := credential(&cfg)
		if err != nil {
			t.Fatalf("%s: credential: %v", tt.name, err)
		}
		if got := cred != nil; got != tt.want {
			t.Errorf("%s: credential made = %v, want %v", tt.name, got, tt.want)
		}
	}
}
