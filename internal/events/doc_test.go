package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
)

const eventsDoc = "../../docs/events.md"

var updateDoc = flag.Bool("update", false, "rewrite the examples in docs/events.md from the fixtures")

// docExample is an example block of docs/events.md: a marker naming its fixture, then a JSON block.
var docExample = regexp.MustCompile("(?s)<!-- example: ([^>]+?) -->\n```json\n(.*?)```")

// TestEventsDocExamples keeps docs/events.md true: each example is the event the app emits for its
// fixture (go test ./internal/events -run TestEventsDocExamples -update rewrites them), is a valid
// CloudEvent whose data matches the schema and becomes a message, and every event type and
// application property is documented.
func TestEventsDocExamples(t *testing.T) {
	raw, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	want := map[string]string{} // fixture name → indented event
	for _, e := range emittedEvents(t) {
		if e.doc {
			want[e.name] = indentJSON(t, e.body)
		}
	}
	seen := map[string]bool{}
	doc = docExample.ReplaceAllStringFunc(doc, func(block string) string {
		m := docExample.FindStringSubmatch(block)
		name, got := m[1], m[2]
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("%s: example %q names no fixture with doc set", eventsDoc, name)
			return block
		case seen[name]:
			t.Errorf("%s: example %q appears twice", eventsDoc, name)
		case got != w && !*updateDoc:
			t.Errorf("%s: example %q is not what the app emits; run with -update.\n got:\n%s\nwant:\n%s", eventsDoc, name, got, w)
		}
		seen[name] = true
		return "<!-- example: " + name + " -->\n```json\n" + w + "```"
	})
	for name := range want {
		if !seen[name] {
			t.Errorf("%s: no example %q (add `<!-- example: %s -->` and an empty json block, then run -update)", eventsDoc, name, name)
		}
	}
	if *updateDoc {
		if err := os.WriteFile(eventsDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	sch := compileDataSchema(t)
	types := map[string]bool{}
	for _, m := range docExample.FindAllStringSubmatch(doc, -1) {
		body := []byte(m[2])
		var ev cloudevent.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("example %q: the CloudEvents SDK cannot read it: %v", m[1], err)
			continue
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("example %q: %v", m[1], err)
		}
		if err := validateData(t, sch, body); err != nil {
			t.Errorf("example %q: data does not match the schema: %v", m[1], err)
		}
		if _, err := NewMessage(body); err != nil {
			t.Errorf("example %q: NewMessage: %v", m[1], err)
		}
		types[ev.Type()] = true
	}
	for _, typ := range typeByStatus {
		if !types[typ] {
			t.Errorf("%s has no example of %s", eventsDoc, typ)
		}
	}
	for _, p := range []string{PropStatus, PropPassed, PropKind, PropCloudEventsType, PropCloudEventsSubj} {
		if !strings.Contains(doc, "| `"+p+"` |") {
			t.Errorf("%s: the application properties table has no row for %s", eventsDoc, p)
		}
	}
}

func indentJSON(t *testing.T, body []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String() + "\n"
}
