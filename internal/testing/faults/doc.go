// Package faults is the process-level part of the fault suite (issue 10): the built handler runs
// as a process in internal/testing/stack, with the fault hooks of internal/faulthooks compiled in,
// and each test injects a fault for real (the Service Bus stand-in stopped and restarted on its
// port, Azurite cut off behind a faultproxy, the handler killed with SIGKILL between a commit and
// its send, the stand-in detaching the idle sender), then checks the session's row in Azurite and
// counts the events delivered on the topic's `all` subscription: exactly one per final state.
package faults
