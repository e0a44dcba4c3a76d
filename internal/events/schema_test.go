package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// dataSchemaFile is the JSON Schema of the event data that the repo publishes (design §6).
const dataSchemaFile = "../../api/events/session-finished.schema.json"

func compileDataSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time is checked, not only annotated
	sch, err := c.Compile(dataSchemaFile)
	if err != nil {
		t.Fatalf("compile %s: %v", dataSchemaFile, err)
	}
	return sch
}

// validateData validates the data member of a structured CloudEvent against the schema.
func validateData(t *testing.T, sch *jsonschema.Schema, event []byte) error {
	t.Helper()
	var ev struct{ Data json.RawMessage }
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ev.Data))
	if err != nil {
		t.Fatalf("data is not JSON: %v", err)
	}
	return sch.Validate(doc)
}

// TestEmittedEventsAreCloudEvents reads every emitted event with the CloudEvents Go SDK: the
// envelope is a valid CloudEvents 1.0 event with the attributes of design §6.
func TestEmittedEventsAreCloudEvents(t *testing.T) {
	for _, e := range emittedEvents(t) {
		t.Run(e.name, func(t *testing.T) {
			var ev cloudevent.Event
			if err := json.Unmarshal(e.body, &ev); err != nil {
				t.Fatalf("the CloudEvents SDK cannot read the event: %v", err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			checks := []struct{ attr, got, want string }{
				{"specversion", ev.SpecVersion(), "1.0"},
				{"id", ev.ID(), e.sess.ID + "/" + string(e.sess.Status)},
				{"source", ev.Source(), fixtureSource},
				{"type", ev.Type(), e.wantType},
				{"subject", ev.Subject(), e.sess.ID},
				{"datacontenttype", ev.DataContentType(), "application/json"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.attr, c.got, c.want)
				}
			}
			if !ev.Time().Equal(e.sess.CompletedAt) {
				t.Errorf("time = %v, want the completion time %v", ev.Time(), e.sess.CompletedAt)
			}
			if len(ev.Extensions()) != 0 {
				t.Errorf("extensions %v: design §6 names none", ev.Extensions())
			}
			var data struct {
				SessionID string `json:"sessionId"`
				Passed    *bool  `json:"passed"`
			}
			if err := ev.DataAs(&data); err != nil {
				t.Fatalf("DataAs: %v", err)
			}
			if data.SessionID != e.sess.ID || data.Passed == nil || *data.Passed != e.wantPassed {
				t.Errorf("data: sessionId %q passed %v, want %q %v", data.SessionID, data.Passed, e.sess.ID, e.wantPassed)
			}
		})
	}
}

func TestEmittedEventDataMatchesSchema(t *testing.T) {
	sch := compileDataSchema(t)
	for _, e := range emittedEvents(t) {
		t.Run(e.name, func(t *testing.T) {
			if err := validateData(t, sch, e.body); err != nil {
				t.Errorf("data does not match %s: %v\nevent: %s", dataSchemaFile, err, e.body)
			}
		})
	}
}

// TestDataSchemaRefuses: the schema holds design §4's rules, so an event that breaks them (or
// carries something no event may) fails it. Each case edits one valid emitted event.
func TestDataSchemaRefuses(t *testing.T) {
	sch := compileDataSchema(t)
	byName := map[string][]byte{}
	for _, e := range emittedEvents(t) {
		byName[e.name] = e.body
	}
	cases := []struct {
		name, from, path string
		v                any
	}{
		{"a token member", "completed realface", "data.authToken", "eyJ..."},
		{"a link member", "completed realface", "data.url", "https://liveness.face.azure.com/?s=x"},
		{"no passed", "completed realface", "data.passed", nil},
		{"passed as a string", "completed realface", "data.passed", "true"},
		{"passed for a spoof", "completed spoofface", "data.passed", true},
		{"not passed for a real face", "completed realface", "data.passed", false},
		{"passed for another person", "completed verify other person", "data.passed", true},
		{"passed when canceled", "canceled", "data.passed", true},
		{"completed without decision", "completed realface", "data.decision", nil},
		{"unknown decision", "completed uncertain without reference", "data.decision", "maybe"},
		{"completed with failure", "completed realface", "data.failure", map[string]any{"code": "X"}},
		{"failed without failure", "failed", "data.failure", nil},
		{"failed with decision", "failed", "data.decision", "spoofface"},
		{"failure without code", "failed", "data.failure", map[string]any{"message": "m"}},
		{"canceled with decision", "canceled", "data.decision", "realface"},
		{"expired with attempts", "expired", "data.attemptCount", 1},
		{"completed without attempts", "completed realface", "data.attemptCount", 0},
		{"verify on a liveness session", "completed spoofface", "data.verify", map[string]any{"isIdentical": false, "matchConfidence": 0.1}},
		{"matchConfidence above 1", "completed verify identical", "data.verify.matchConfidence", 1.5},
		{"open status", "canceled", "data.status", "linkIssued"},
		{"unknown kind", "canceled", "data.kind", "face"},
		{"upper-case session id", "canceled", "data.sessionId", "92A3B4C5-D6E7-4F89-8102-132435465768"},
		{"completedAt not a date-time", "canceled", "data.completedAt", "yesterday"},
		{"control character in externalReference", "canceled", "data.externalReference", "order\u001b[2J"},
		{"externalReference too long", "canceled", "data.externalReference", strings.Repeat("x", 129)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, ok := byName[c.from]
			if !ok {
				t.Fatalf("no fixture %q", c.from)
			}
			if err := validateData(t, sch, edit(t, body, c.path, c.v)); err == nil {
				t.Errorf("the schema accepts %s = %v", c.path, c.v)
			}
		})
	}
}

// TestEmittedTimesAreUTC: the schema's date-time also allows offsets; the app writes UTC only.
func TestEmittedTimesAreUTC(t *testing.T) {
	for _, e := range emittedEvents(t) {
		var ev CloudEvent
		if err := json.Unmarshal(e.body, &ev); err != nil {
			t.Fatal(err)
		}
		for _, ts := range []string{ev.Time, ev.Data.CreatedAt, ev.Data.CompletedAt} {
			if p, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || p.Location() != time.UTC {
				t.Errorf("%s: time %q is not RFC 3339 UTC", e.name, ts)
			}
		}
	}
}
