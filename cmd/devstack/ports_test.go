package main

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFollowPortsMovesTheDefaultPortsOnly(t *testing.T) {
	settings := map[string]string{
		"RETURN_URL_ALLOWED_ORIGINS":   "http://localhost:7072,http://localhost:3000,http://127.0.0.1:8080",
		"PUBLIC_BASE_URL":              "http://localhost:7071",
		"TABLES_CONNECTION_STRING":     "AccountName=devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
		"FACE_ENDPOINT":                "https://face.example.com:7072",
		"QUICKLINK_ENDPOINT":           "https://web-localhost:7071",
		"AZURE_CLIENT_ID":              "http://staging-127.0.0.1:10002",
		"SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;",
		"COUNTERS_URL":                 "http://localhost:5300/counters",
		"LOG_LEVEL":                    "info",
	}
	followPorts(settings, ports{app: 8071, face: 8072, tables: 18002, blob: 18000, queue: 18001, sb: 15672, sbHTTP: 15300, demo: 18080})
	want := map[string]string{
		"RETURN_URL_ALLOWED_ORIGINS":   "http://localhost:8072,http://localhost:3000,http://127.0.0.1:18080",
		"PUBLIC_BASE_URL":              "http://localhost:8071",
		"TABLES_CONNECTION_STRING":     "AccountName=devstoreaccount1;TableEndpoint=http://127.0.0.1:18002/devstoreaccount1;",
		"FACE_ENDPOINT":                "https://face.example.com:7072", // not a local address
		"QUICKLINK_ENDPOINT":           "https://web-localhost:7071",    // nor these
		"AZURE_CLIENT_ID":              "http://staging-127.0.0.1:10002",
		"SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:15672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;",
		"COUNTERS_URL":                 "http://localhost:15300/counters",
		"LOG_LEVEL":                    "info",
	}
	if diff := cmp.Diff(want, settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestCheckPortsNamesTheVariableToChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().(*net.TCPAddr).Port
	free := func() int { return freePort(t) }
	p := ports{app: free(), face: held, tables: free(), blob: free(), queue: free(), sb: free(), sbHTTP: free()}
	err = checkPorts(p, false)
	if err == nil || !strings.Contains(err.Error(), "make run FACE_PORT=") {
		t.Errorf("checkPorts with the Face port held = %v, want an error naming make run FACE_PORT", err)
	}
	p.face, p.queue = free(), held
	if err := checkPorts(p, false); err != nil {
		t.Errorf("checkPorts without host storage = %v: the queue port is not needed", err)
	}
	if err := checkPorts(p, true); err == nil || !strings.Contains(err.Error(), "make func-start QUEUE_PORT=") {
		t.Errorf("checkPorts with host storage and the queue port held = %v, want an error naming make func-start QUEUE_PORT", err)
	}
	p.queue, p.demo = free(), free()
	for _, c := range []struct {
		port     *int
		variable string
	}{{&p.sb, "SERVICEBUS_PORT"}, {&p.sbHTTP, "SERVICEBUS_HTTP_PORT"}, {&p.demo, "DEMO_PORT"}} {
		was := *c.port
		*c.port = held
		if err := checkPorts(p, false); err == nil || !strings.Contains(err.Error(), "make run "+c.variable+"=") {
			t.Errorf("checkPorts with the %s held = %v, want an error naming make run %s", c.variable, err, c.variable)
		}
		*c.port = was
	}
}
