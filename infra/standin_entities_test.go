package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// standinEntities is the shape of internal/standin/servicebus/entities.json, the local Service
// Bus stand-in's entities, as far as the Bicep decides it.
type standinEntities struct {
	Topics []struct {
		Name                            string `json:"name"`
		RequiresDuplicateDetection      bool   `json:"requiresDuplicateDetection"`
		DuplicateDetectionWindowSeconds int    `json:"duplicateDetectionWindowSeconds"`
		Subscriptions                   []standinSubscription
	} `json:"topics"`
	Queues []json.RawMessage `json:"queues"`
}

type standinSubscription struct {
	Name                string `json:"name"`
	LockDurationSeconds int    `json:"lockDurationSeconds"`
	MaxDeliveryCount    int    `json:"maxDeliveryCount"`
	SQLFilter           string `json:"sqlFilter,omitempty"`
}

// TestStandinEntitiesMirrorBicep: the stand-in serves the topic, subscriptions, filters, lock
// durations, delivery counts and duplicate window that infra/ deploys, so local runs and tests
// see what Azure does.
func TestStandinEntitiesMirrorBicep(t *testing.T) {
	d := loadDeployment(t, ".")
	b, err := os.ReadFile(filepath.Join("..", "internal", "standin", "servicebus", "entities.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got standinEntities
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("entities.json: %v", err)
	}
	if len(got.Topics) != 1 || len(got.Queues) != 0 {
		t.Fatalf("entities.json has %d topics and %d queues; infra/ deploys one topic and no queue", len(got.Topics), len(got.Queues))
	}
	main := d.files[mainFile]
	paramValue := func(name string) any {
		if v, ok := d.parameters[name]; ok {
			return v
		}
		return main.Params[name].Default
	}
	topicName, _ := paramValue("serviceBusTopicName").(string)
	windowMinutes, _ := paramValue("duplicateDetectionWindowMinutes").(float64)
	mod := d.files["modules/servicebus.bicep"]
	props, _ := mod.Vars["subscriptionProperties"].(map[string]any)
	lock, err := isoDuration(str(props["lockDuration"]))
	if err != nil {
		t.Fatalf("subscriptionProperties.lockDuration: %v", err)
	}
	maxDeliveries, _ := props["maxDeliveryCount"].(float64)

	filters := map[string]string{} // subscription symbol → SQL expression of its $Default rule
	for _, r := range d.resources("Microsoft.ServiceBus/namespaces/topics/subscriptions/rules") {
		body, _ := r.res.Body.(map[string]any)
		p, _ := body["properties"].(map[string]any)
		sql, _ := p["sqlFilter"].(map[string]any)
		if body["name"] != "$Default" || p["filterType"] != "SqlFilter" {
			t.Fatalf("rule %s of %s: the stand-in knows only $Default SQL filters", r.res.Symbol, r.res.Parent)
		}
		filters[r.res.Parent] = str(sql["sqlExpression"])
	}
	var subs []standinSubscription
	for _, r := range d.resources("Microsoft.ServiceBus/namespaces/topics/subscriptions") {
		body, _ := r.res.Body.(map[string]any)
		subs = append(subs, standinSubscription{
			Name: str(body["name"]), LockDurationSeconds: int(lock.Seconds()), MaxDeliveryCount: int(maxDeliveries),
			SQLFilter: filters[r.res.Symbol],
		})
	}
	topic := got.Topics[0]
	if topic.Name != topicName || !topic.RequiresDuplicateDetection || topic.DuplicateDetectionWindowSeconds != int(windowMinutes)*60 {
		t.Errorf("entities.json topic %q, duplicate detection %v over %d s; infra/ deploys %q with %v min",
			topic.Name, topic.RequiresDuplicateDetection, topic.DuplicateDetectionWindowSeconds, topicName, windowMinutes)
	}
	if diff := cmp.Diff(subs, topic.Subscriptions); diff != "" {
		t.Errorf("entities.json subscriptions differ from infra/ (-bicep +entities.json):\n%s", diff)
	}
}

func str(v any) string { s, _ := v.(string); return s }
