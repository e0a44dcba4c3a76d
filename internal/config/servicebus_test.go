package config

import (
	"strings"
	"testing"
)

// Service Bus is where the app announces every final state (design §6): without it events stay in
// the outbox forever, so a start without it, or with two competing ways to reach it, is refused.
func TestLoadServiceBusConnection(t *testing.T) {
	const key = "SharedAccessKey=c2FzLWtleS1zZWNyZXQ=" // must never appear in an error
	tests := []struct {
		name    string
		ns, cs  string
		problem string // "" means accepted
	}{
		{"namespace only", "sb-liveness.servicebus.windows.net", "", ""},
		{"azure connection string", "", "Endpoint=sb://sb-liveness.servicebus.windows.net/;SharedAccessKeyName=send;" + key, ""},
		{"emulator on 127.0.0.1", "", "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=r;" + key + ";UseDevelopmentEmulator=true;", ""},
		{"emulator on localhost", "", "Endpoint=sb://localhost;SharedAccessKeyName=r;" + key + ";UseDevelopmentEmulator=true", ""},
		{"emulator on ::1", "", "Endpoint=sb://[::1]:5672;" + key + ";usedevelopmentemulator=TRUE", ""},
		{"emulator set false on a remote host", "", "Endpoint=sb://sb.example.com;" + key + ";UseDevelopmentEmulator=false", ""},
		{"neither", "", "", "one of SERVICEBUS_NAMESPACE or SERVICEBUS_CONNECTION_STRING is required"},
		{"both", "sb-liveness.servicebus.windows.net", "Endpoint=sb://sb-liveness.servicebus.windows.net/;" + key,
			"set only one of SERVICEBUS_NAMESPACE or SERVICEBUS_CONNECTION_STRING"},
		{"not sb://", "", "Endpoint=https://sb.example.com;" + key, "SERVICEBUS_CONNECTION_STRING must start with Endpoint=sb://"},
		{"emulator on a remote host", "", "Endpoint=sb://sb.example.com;" + key + ";UseDevelopmentEmulator=true",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
		{"emulator on a LAN address", "", "Endpoint=sb://10.0.0.4:5672;" + key + ";UseDevelopmentEmulator=True;",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
		// The SDK reads the flag with strconv.ParseBool: each of these is true to it.
		{"emulator flag 1 on a remote host", "", "Endpoint=sb://sb.example.com;" + key + ";UseDevelopmentEmulator=1",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
		{"emulator flag T on a remote host", "", "Endpoint=sb://sb.example.com;" + key + ";UseDevelopmentEmulator=T",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
		{"emulator flag 1 on loopback", "", "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=r;" + key + ";UseDevelopmentEmulator=1", ""},
		{"emulator flag neither true nor false", "", "Endpoint=sb://127.0.0.1;" + key + ";UseDevelopmentEmulator=yes",
			"SERVICEBUS_CONNECTION_STRING has a UseDevelopmentEmulator that is neither true nor false"},
		// The SDK ignores a key with spaces around it and takes the last of two: a loopback
		// endpoint there must not vouch for the one it dials.
		{"a spaced endpoint key after a remote one", "", "Endpoint=sb://sb.example.com;" + key + ";UseDevelopmentEmulator=true;Endpoint =sb://127.0.0.1",
			`SERVICEBUS_CONNECTION_STRING has spaces around the key "Endpoint"`},
		{"a spaced emulator key", "", "Endpoint=sb://10.0.0.4:5672;" + key + "; UseDevelopmentEmulator = True ;",
			`SERVICEBUS_CONNECTION_STRING has spaces around the key "UseDevelopmentEmulator"`},
		{"two endpoints", "", "Endpoint=sb://127.0.0.1;" + key + ";UseDevelopmentEmulator=true;endpoint=sb://sb.example.com",
			`SERVICEBUS_CONNECTION_STRING names the key "endpoint" twice`},
		{"emulator on a look-alike host", "", "endpoint=SB://localhost.example.com;" + key + ";UseDevelopmentEmulator=true",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
		{"emulator on localhost with a long s", "", "Endpoint=sb://localho\u017ft:5672;" + key + ";UseDevelopmentEmulator=true",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
		{"emulator on LOCALHOST", "", "Endpoint=sb://LOCALHOST:5672;SharedAccessKeyName=r;" + key + ";UseDevelopmentEmulator=true", ""},
		{"emulator without a host", "", "Endpoint=sb://;" + key + ";UseDevelopmentEmulator=true",
			"SERVICEBUS_CONNECTION_STRING with UseDevelopmentEmulator=true must have a loopback Endpoint host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"SERVICEBUS_NAMESPACE": tt.ns, "SERVICEBUS_CONNECTION_STRING": tt.cs}))
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("Load = %v, want it accepted", err)
				}
				if c.ServiceBusNamespace != tt.ns || c.ServiceBusConnectionString != tt.cs {
					t.Errorf("Load kept namespace %q and a connection string of %d bytes, want %q and %d bytes",
						c.ServiceBusNamespace, len(c.ServiceBusConnectionString), tt.ns, len(tt.cs))
				}
				return
			}
			if err == nil {
				t.Fatalf("Load accepted it, want the problem %q", tt.problem)
			}
			if !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("Load = %v, want the problem %q", err, tt.problem)
			}
			if strings.Contains(err.Error(), "c2FzLWtleS1zZWNyZXQ") {
				t.Errorf("Load's error quotes the SAS key: %v", err)
			}
		})
	}
}

func TestLoadServiceBusEntity(t *testing.T) {
	tests := []struct {
		entity string
		ok     bool
	}{
		{"", true}, // the default, liveness-events
		{"liveness-events", true},
		{"Liveness_Events.v2", true},
		{"tenant-a/liveness-events", true},
		{strings.Repeat("a", 260), true},
		{strings.Repeat("a", 261), false},
		{"/liveness-events", false},
		{"liveness-events/", false},
		{"a//b", false},
		{"liveness events", false},
		{"liveness-events?x=1", false},
		{"liveness@events", false},
		{"liveness#events", false},
		{"liveness*events", false},
		{"événements", false},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"SERVICEBUS_ENTITY": tt.entity}))
		switch {
		case tt.ok && err != nil:
			t.Errorf("Load with SERVICEBUS_ENTITY %q = %v, want it accepted", tt.entity, err)
		case tt.ok && tt.entity != "" && c.ServiceBusEntity != tt.entity:
			t.Errorf("Load with SERVICEBUS_ENTITY %q kept %q", tt.entity, c.ServiceBusEntity)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "SERVICEBUS_ENTITY must be a Service Bus queue or topic name")):
			t.Errorf("Load with SERVICEBUS_ENTITY %q = %v, want the entity name refused", tt.entity, err)
		case !tt.ok && strings.Contains(err.Error(), tt.entity):
			t.Errorf("Load's error quotes the value: %v", err)
		}
	}
}
