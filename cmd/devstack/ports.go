package main

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// defaultPorts are the ports local.settings.json.example names, as flag defaults and make
// variables do. The Service Bus ones are the Service Bus emulator's (AMQP 5672, HTTP 5300), so
// that a connection string written for the emulator reaches the stand-in.
var defaultPorts = ports{app: 7071, face: 7072, tables: 10002, blob: 10000, queue: 10001, sb: 5672, sbHTTP: 5300, demo: 8080}

// checkPorts fails, naming the make variable to change, when a port the stack needs is held by
// another process: a server already there would otherwise answer as if it were ours. hostStorage
// is `make func-start`'s stack, with Azurite's blob and queue services.
func checkPorts(p ports, hostStorage bool) error {
	target := "make run"
	if hostStorage {
		target = "make func-start"
	}
	type namedPort struct {
		port     int
		variable string
	}
	check := []namedPort{{p.app, "PORT"}, {p.face, "FACE_PORT"}, {p.tables, "TABLES_PORT"},
		{p.sb, "SERVICEBUS_PORT"}, {p.sbHTTP, "SERVICEBUS_HTTP_PORT"}}
	if hostStorage {
		check = append(check, namedPort{p.blob, "BLOB_PORT"}, namedPort{p.queue, "QUEUE_PORT"})
	}
	if p.demo != 0 {
		check = append(check, namedPort{p.demo, "DEMO_PORT"})
	}
	for _, c := range check {
		if err := services.CheckFree(c.port); err != nil {
			suggestion := ""
			if free, err := services.FreePort(); err == nil {
				suggestion = fmt.Sprintf(", e.g. %s %s=%d", target, c.variable, free)
			}
			return fmt.Errorf("port %d is in use by another process: choose another with %s=…%s", c.port, c.variable, suggestion)
		}
	}
	return nil
}

// localAddr is a local address in a URL: after "//", so that a host that merely ends in
// "localhost" (web-localhost) is not taken for it.
var localAddr = regexp.MustCompile(`//(localhost|127\.0\.0\.1):(\d+)\b`)

// followPorts rewrites, in every setting, a local address on one of the default ports to the
// port chosen instead, so that settings naming the stack's ports (origins, endpoints) follow.
func followPorts(settings map[string]string, p ports) {
	moved := map[int]int{
		defaultPorts.app: p.app, defaultPorts.face: p.face, defaultPorts.tables: p.tables,
		defaultPorts.blob: p.blob, defaultPorts.queue: p.queue,
		defaultPorts.sb: p.sb, defaultPorts.sbHTTP: p.sbHTTP,
	}
	if p.demo != 0 {
		moved[defaultPorts.demo] = p.demo
	}
	for k, v := range settings {
		settings[k] = localAddr.ReplaceAllStringFunc(v, func(addr string) string {
			m := localAddr.FindStringSubmatch(addr)
			port, _ := strconv.Atoi(m[2])
			if to, ok := moved[port]; ok {
				return "//" + m[1] + ":" + strconv.Itoa(to)
			}
			return addr
		})
	}
}
