package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewMessageOfEveryEmittedEvent(t *testing.T) {
	for _, e := range emittedEvents(t) {
		t.Run(e.name, func(t *testing.T) {
			msg, err := NewMessage(e.body)
			if err != nil {
				t.Fatalf("NewMessage: %v", err)
			}
			if !bytes.Equal(msg.Body, e.body) {
				t.Errorf("Body is not the stored event:\n got %s\nwant %s", msg.Body, e.body)
			}
			wantID := e.sess.ID + "/" + string(e.sess.Status)
			if got := deref(msg.MessageID); got != wantID {
				t.Errorf("MessageID = %q, want %q", got, wantID)
			}
			if got := deref(msg.ContentType); got != "application/cloudevents+json" {
				t.Errorf("ContentType = %q, want application/cloudevents+json", got)
			}
			if got := deref(msg.Subject); got != e.wantType {
				t.Errorf("Subject = %q, want the CloudEvent type %q", got, e.wantType)
			}
			// Typed values: a SQL filter `passed = false` matches a boolean, never the string "false".
			want := map[string]any{
				"status":              string(e.sess.Status),
				"passed":              e.wantPassed,
				"kind":                string(e.sess.Kind),
				"cloudEvents_type":    e.wantType,
				"cloudEvents_subject": e.sess.ID,
			}
			if diff := cmp.Diff(want, msg.ApplicationProperties); diff != "" {
				t.Errorf("ApplicationProperties (-want +got):\n%s", diff)
			}
			if msg.SessionID != nil || msg.PartitionKey != nil || msg.ScheduledEnqueueTime != nil || msg.TimeToLive != nil {
				t.Errorf("message sets fields design §6 does not name: %+v", msg)
			}
		})
	}
}

// TestNewMessageRefuses covers every check of NewMessage with one otherwise valid event.
func TestNewMessageRefuses(t *testing.T) {
	base := emittedEvents(t)[0].body   // completed, passed
	longID := strings.Repeat("a", 120) // 120 + "/completed" = 130 characters
	cases := []struct {
		name    string
		event   []byte
		want    error
		mention string
	}{
		{"empty", nil, ErrInvalidEvent, "JSON"},
		{"not JSON", []byte("Liveness.Session.Completed"), ErrInvalidEvent, "JSON"},
		{"JSON array", []byte(`[]`), ErrInvalidEvent, "JSON"},
		{"wrong specversion", edit(t, base, "specversion", "0.3"), ErrInvalidEvent, "specversion"},
		{"no data", edit(t, base, "data", nil), ErrInvalidEvent, "data"},
		{"no sessionId", edit(t, base, "data.sessionId", nil), ErrInvalidEvent, "sessionId"},
		{"unknown kind", edit(t, base, "data.kind", "face"), ErrInvalidEvent, "kind"},
		{"no passed", edit(t, base, "data.passed", nil), ErrInvalidEvent, "passed"},
		{"passed as a string", edit(t, base, "data.passed", "false"), ErrInvalidEvent, "JSON"},
		{"open status", edit(t, base, "data.status", "linkIssued"), ErrInvalidEvent, "status"},
		{"type of another status", edit(t, base, "type", "Liveness.Session.Failed"), ErrInvalidEvent, "type"},
		{"subject of another session", edit(t, base, "subject", "0b4e2a3c-1111-4222-8333-444455556666"), ErrInvalidEvent, "subject"},
		{"id of another status", edit(t, base, "id", "6f1c2a4e-8d3b-4c7a-9e21-5b0d7f3a1c88/failed"), ErrInvalidEvent, "id"},
		{"id too long", edit(t, edit(t, edit(t, base, "data.sessionId", longID), "subject", longID), "id", longID+"/completed"),
			ErrMessageIDTooLong, "128"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, err := NewMessage(c.event)
			if !errors.Is(err, c.want) {
				t.Fatalf("NewMessage = %v, %v; want error %v", msg, err, c.want)
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("error %v is not an ErrInvalidEvent: a sender would retry it", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

// TestNewMessageAcceptsLongestID: 128 characters is the limit, not one past it. Characters are
// counted, not bytes.
func TestNewMessageAcceptsLongestID(t *testing.T) {
	base := emittedEvents(t)[0].body
	id := strings.Repeat("é", 128-len("/completed")) // 2 bytes each in UTF-8
	ev := edit(t, edit(t, edit(t, base, "data.sessionId", id), "subject", id), "id", id+"/completed")
	msg, err := NewMessage(ev)
	if err != nil {
		t.Fatalf("NewMessage of a 128-character id: %v", err)
	}
	if got := deref(msg.MessageID); got != id+"/completed" {
		t.Errorf("MessageID = %q", got)
	}
}

// FuzzNewMessage: whatever the stored bytes, NewMessage refuses them as ErrInvalidEvent or builds
// a message that agrees with them.
func FuzzNewMessage(f *testing.F) {
	for _, e := range emittedEvents(f) {
		f.Add(e.body)
	}
	f.Add([]byte(`{"specversion":"1.0","data":{"passed":null}}`))
	f.Fuzz(func(t *testing.T, event []byte) {
		msg, err := NewMessage(event)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error %v is not an ErrInvalidEvent", err)
			}
			return
		}
		if !bytes.Equal(msg.Body, event) {
			t.Fatalf("Body differs from the stored event")
		}
		var ev storedEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			t.Fatalf("accepted bytes that do not decode: %v", err)
		}
		id := deref(msg.MessageID)
		if id != ev.ID || len([]rune(id)) > MaxMessageIDLength || id != ev.Data.SessionID+"/"+string(ev.Data.Status) {
			t.Fatalf("MessageID %q does not follow the event %s", id, event)
		}
		if _, ok := msg.ApplicationProperties["passed"].(bool); !ok {
			t.Fatalf("passed is %T, want bool", msg.ApplicationProperties["passed"])
		}
		if deref(msg.Subject) != typeByStatus[ev.Data.Status] {
			t.Fatalf("Subject %q does not follow status %q", deref(msg.Subject), ev.Data.Status)
		}
	})
}

// edit returns event with the member at path (dot-separated) set to v, or removed when v is nil.
func edit(t *testing.T, event []byte, path string, v any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(event, &doc); err != nil {
		t.Fatalf("edit: %v", err)
	}
	keys := strings.Split(path, ".")
	m := doc
	for _, k := range keys[:len(keys)-1] {
		m = m[k].(map[string]any)
	}
	if last := keys[len(keys)-1]; v == nil {
		delete(m, last)
	} else {
		m[last] = v
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
