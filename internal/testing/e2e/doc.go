// Package e2e has no code: its tests drive the whole app in headless Chromium (issue 9 item 7),
// from the demo app's start page through the quick link stand-in's capture page back to the
// demo's return page, and check GetSession, the events on the topic and, at the end, that no
// secret reached a log line, an answer body, an event or a table row.
package e2e
