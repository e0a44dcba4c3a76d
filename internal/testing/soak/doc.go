// Package soak holds the soak test of issue 10: many full sessions (StartSession with a link, the
// capture through the quick link stand-in, the Callback, Reconcile) run against the app in-process
// with faults injected at random from a seeded source, and the test checks that every session
// ends in one final state with exactly one event delivered on Service Bus.
//
// `make test` runs 200 sessions; `make soak` runs 2,000 (SOAK_SESSIONS sets the number, SOAK_SEED
// replays a run's fault plan and session plans). Only the test files hold code.
package soak
