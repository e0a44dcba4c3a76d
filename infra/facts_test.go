package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDuplicateWindowLimits: the window check takes Service Bus's limits, 20 seconds to 7 days,
// inclusive, and then asks for more than Reconcile's resend horizon (handlers.ResendHorizon, 23 h).
func TestDuplicateWindowLimits(t *testing.T) {
	for _, c := range []struct {
		window string
		want   string // "" when accepted
	}{
		{"PT19S", "below PT20S"},
		{"PT0M", "below PT20S"},
		{"PT20S", "resend horizon"}, // Service Bus takes it; Reconcile needs more
		{"PT10M", "resend horizon"},
		{"PT1380M", "resend horizon"}, // 23 h: equal is not enough
		{"PT1381M", ""},
		{"P1D", ""},
		{"PT1440M", ""},
		{"P7D", ""},
		{"PT10080M", ""},
		{"P7DT1S", "above P7D"},
		{"PT10081M", "above P7D"},
		{"P8D", "above P7D"},
		{"P1", "not an ISO 8601 duration"},
		{"PT", "not an ISO 8601 duration"},
		{"1.00:00:00", "not an ISO 8601 duration"},
	} {
		got := windowProblem(c.window)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("windowProblem(%q) = %q, want %q", c.window, got, c.want)
		}
	}
	if d, err := isoDuration("P1DT2H3M4S"); err != nil || d != 26*time.Hour+3*time.Minute+4*time.Second {
		t.Errorf("isoDuration(P1DT2H3M4S) = %v, %v", d, err)
	}
}

// TestServiceBusHostNameFromEndpoint: the host name the templates give SERVICEBUS_NAMESPACE is the
// namespace endpoint's host, whatever the cloud's suffix, with or without a port.
func TestServiceBusHostNameFromEndpoint(t *testing.T) {
	d := loadDeployment(t, ".")
	f := d.files["modules/servicebus.bicep"]
	i := slices.IndexFunc(f.Outputs, func(o output) bool { return o.Name == "hostName" })
	if i < 0 {
		t.Fatal("modules/servicebus.bicep has no output hostName")
	}
	for endpoint, want := range map[string]string{
		"https://ns.servicebus.windows.net:443/": "ns.servicebus.windows.net",
		"https://ns.servicebus.example.test/":    "ns.servicebus.example.test",
		"https://ns.servicebus.example.test":     "ns.servicebus.example.test",
	} {
		e := d.evaluator(true)
		e.samples = map[string]map[string]string{"Microsoft.ServiceBus/namespaces": {"serviceBusEndpoint": endpoint}}
		if got, ok := e.eval(f, f.Outputs[i].Value, 0); !ok || got != want {
			t.Errorf("hostName for the endpoint %s = %v (%v), want %s", endpoint, got, ok, want)
		}
	}
}

// TestFlexSettingsCoverReference: every setting functions-custom-handler.md §9 says Flex does not
// allow is in flexUnsupportedSettings. The reference lives in ../shared beside the repository.
func TestFlexSettingsCoverReference(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "docs", "reference", "functions-custom-handler.md")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("no %s beside the repository", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| settings \*\*not\*\* allowed \|(.*)\|$`).FindSubmatch(b)
	if row == nil {
		t.Fatalf("%s: no §9 row 'settings **not** allowed'", path)
	}
	names := regexp.MustCompile("`([A-Z_]+)`").FindAllSubmatch(row[1], -1)
	if len(names) == 0 {
		t.Fatalf("%s: no setting in the §9 row", path)
	}
	for _, n := range names {
		if !slices.Contains(flexUnsupportedSettings, string(n[1])) {
			t.Errorf("flexUnsupportedSettings lacks %s (functions-custom-handler.md §9)", n[1])
		}
	}
}
