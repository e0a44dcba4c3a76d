// Package services starts the local services that stand in for Azure on this machine, one way for
// everyone: `make run` and `make func-start` (cmd/devstack) and the tests (package testenv) all go
// through StartAzurite, and every child process they run goes through Start.
//
// A service listens on loopback only, on the port its options name or, with port 0, on a free one
// (retried when another process takes the port between picking and binding it). Each process runs
// in a process group of its own, so that Stop also ends whatever it spawned: nothing is orphaned.
package services
