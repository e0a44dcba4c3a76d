// Package servicebus holds the local Service Bus stand-in (server.mjs, on npm rhea) and its
// conformance tests, which drive it with the unmodified azservicebus SDK. The stand-in is started
// through services.StartServiceBus; its entities (entities.json) mirror infra/'s topic and
// subscriptions. There is no Go code here besides the tests.
package servicebus
