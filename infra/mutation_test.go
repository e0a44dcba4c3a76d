package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mutation breaks one thing in a copy of infra/: the named policy must notice.
type mutation struct {
	name, policy string
	file         string // slash path relative to infra/
	old, new     string // old == "" appends new
}

func staticMutations() []mutation {
	const app = "modules/functionapp.bicep"
	const roles = "modules/roles.bicep"
	const sb = "modules/servicebus.bicep"
	const hostName = "output hostName string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]"
	const siteConfig = "    siteConfig: {\n      minTlsVersion: '1.2'\n"
	const window = "param duplicateDetectionWindowMinutes int = 1440"
	const windowBounds = "@minValue(1)\n@maxValue(10080)\n" + window
	const beforeLogLevel = `"logLevel": {`
	return []mutation{
		{"storage allows shared keys", "no-key-auth", "modules/storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true"},
		{"storage leaves shared keys at the default", "no-key-auth", "modules/storage.bicep", "    allowSharedKeyAccess: false\n", ""},
		{"service bus allows SAS", "no-key-auth", "modules/servicebus.bicep", "disableLocalAuth: true", "disableLocalAuth: false"},
		{"face allows keys", "no-key-auth", "modules/face.bicep", "disableLocalAuth: true", "disableLocalAuth: false"},
		{"face leaves keys at the default", "no-key-auth", "modules/face.bicep", "    disableLocalAuth: true\n", ""},
		{"app insights allows ikey ingestion", "no-key-auth", "modules/monitoring.bicep", "DisableLocalAuth: true", "DisableLocalAuth: false"},
		{"log analytics allows shared keys", "no-key-auth", "modules/monitoring.bicep", "disableLocalAuth: true", "disableLocalAuth: false"},
		{"key vault uses access policies", "no-key-auth", "modules/keyvault.bicep", "enableRbacAuthorization: true", "enableRbacAuthorization: false"},
		{"scm publishing password allowed", "no-key-auth", app, "name: 'scm'\n  properties: {\n    allow: false", "name: 'scm'\n  properties: {\n    allow: true"},
		{"scm publishing policy missing", "no-key-auth", app, "name: 'scm'", "name: 'ftp'"},
		{"unchecked data plane added", "no-key-auth", "modules/storage.bicep", "", "\nresource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {\n  name: 'c${name}'\n  location: location\n}\n"},

		{"account key output", "no-secrets", "modules/storage.bicep", "", "\noutput key string = storage.listKeys().keys[0].value\n"},
		{"tables by connection string", "no-secrets", app, "TABLES_ENDPOINT: tablesEndpoint", "TABLES_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=${storageAccountName};EndpointSuffix=core.windows.net'"},
		{"signing keys not from key vault", "no-secrets", app, "CALLBACK_SIGNING_KEYS: '@Microsoft.KeyVault(SecretUri=${signingKeysSecretUri})'", "CALLBACK_SIGNING_KEYS: signingKeysSecretUri"},
		{"app insights connection string output", "no-secrets", "modules/monitoring.bicep", "", "\noutput connectionString string = appInsights.properties.ConnectionString\n"},
		{"app insights connection string under another name", "no-secrets", app, "APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights", "TELEMETRY: appInsights"},
		{"secret parameter", "no-secrets", "modules/face.bicep", "", "\n@secure()\nparam apiKey string\n"},
		{"sas in the parameters file", "no-secrets", "main.parameters.json", `"logLevel": {`, `"sas": {"value": "SharedAccessSignature sr=x"},
    "logLevel": {`},

		{"reconcile schedule not set", "settings", app, "    RECONCILE_SCHEDULE: reconcileSchedule\n", ""},
		{"service bus namespace not set", "settings", app, "    SERVICEBUS_NAMESPACE: serviceBusHostName\n", ""},
		{"reconcile schedule of five fields", "settings", "main.parameters.json", `"value": "0 */1 * * * *"`, `"value": "*/1 * * * *"`},
		{"unknown default mode", "settings", "main.parameters.json", `"value": "PassiveActive"`, `"value": "Active"`},
		{"service bus namespace as a URL", "settings", sb, hostName, "output hostName string = namespace.properties.serviceBusEndpoint"},
		{"service bus host name with its port", "settings", sb, hostName, "output hostName string = split(namespace.properties.serviceBusEndpoint, '/')[2]"},
		{"face key set", "settings", app, "    LOG_LEVEL: logLevel\n", "    LOG_LEVEL: logLevel\n    FACE_API_KEY: '@Microsoft.KeyVault(SecretUri=${signingKeysSecretUri})'\n"},

		{"service bus owner instead of sender", "roles", roles, "serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'", "serviceBusDataSender: '090c5cfd-751d-490a-894a-3ce6f1109419'"},
		{"service bus receiver", "roles", roles, "serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'", "serviceBusDataSender: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'"},
		{"cognitive services user instead of face recognizer", "roles", roles, "faceRecognizer: '9894cab4-e18a-44aa-828b-cb588cd6f2d7'", "faceRecognizer: 'a97b65f3-24c7-4388-baec-2e87135dc908'"},
		{"contributor instead of metrics publisher", "roles", roles, "monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'", "monitoringMetricsPublisher: 'b24988ac-6180-42a0-ab88-20f7382dd24c'"},
		{"assignment name not a guid", "roles", roles, "name: guid(face.id, principalId, roleIds.faceRecognizer)", "name: 'face-recognizer'"},
		{"sender on the whole namespace", "roles", roles, "scope: topic", "scope: namespace"},
		{"assignment on the resource group", "roles", roles, "  scope: appInsights\n", ""},
		{"principal type left to replication", "roles", roles, "principalType: 'ServicePrincipal'", "principalType: 'User'"},

		{"runtime not custom 1.0", "flex", app, "version: '1.0'", "version: '2.0'"},
		{"instance memory hard-coded", "flex", app, "instanceMemoryMB: instanceMemoryMB", "instanceMemoryMB: 2048"},
		{"host storage credential missing", "flex", app, "    AzureWebJobsStorage__credential: 'managedidentity'\n", ""},
		{"key vault references by system identity", "flex", app, "    keyVaultReferenceIdentity: identityId\n", ""},
		{"classic consumption plan", "flex", app, "name: 'FC1'", "name: 'Y1'"},
		{"http allowed", "flex", app, "httpsOnly: true", "httpsOnly: false"},

		{"ftpsState back in siteConfig", "flex-unsupported", app, siteConfig, siteConfig + "      ftpsState: 'Disabled'\n"},
		{"linuxFxVersion in siteConfig", "flex-unsupported", app, siteConfig, siteConfig + "      LinuxFxVersion: 'CUSTOM|1.0'\n"},
		{"alwaysOn in a sites/config 'web' resource", "flex-unsupported", app, "", "\nresource web 'Microsoft.Web/sites/config@2024-04-01' = {\n  parent: site\n  name: 'web'\n  properties: {\n    alwaysOn: true\n  }\n}\n"},
		{"vnetRouteAllEnabled on the site", "flex-unsupported", app, "    httpsOnly: true\n", "    httpsOnly: true\n    vnetRouteAllEnabled: true\n"},
		{"preWarmedInstanceCount in siteConfig", "flex-unsupported", app, siteConfig, siteConfig + "      preWarmedInstanceCount: 1\n"},
		{"worker runtime setting", "flex-unsupported", app, "    LOG_LEVEL: logLevel\n", "    LOG_LEVEL: logLevel\n    FUNCTIONS_WORKER_RUNTIME: 'custom'\n"},
		{"scale-out limit as an app setting", "flex-unsupported", app, "    LOG_LEVEL: logLevel\n", "    LOG_LEVEL: logLevel\n    website_max_dynamic_application_scale_out: '10'\n"},

		{"service bus host name hard-coded", "cloud-neutral", sb, hostName, "output hostName string = '${namespace.name}.servicebus.windows.net'"},
		{"table endpoint with the public storage suffix", "cloud-neutral", "modules/storage.bicep", "${environment().suffixes.storage}'", "core.windows.net'"},
		{"secret URI with the public vault suffix", "cloud-neutral", "modules/keyvault.bicep", "'${vault.properties.vaultUri}secrets/", "'https://${vault.name}.vault.azure.net/secrets/"},
		{"face endpoint from its subdomain", "cloud-neutral", "modules/face.bicep", "output endpoint string = face.properties.endpoint", "output endpoint string = 'https://${customSubDomainName}.cognitiveservices.azure.com/'"},
		{"base URL from the app name", "cloud-neutral", app, "'https://${site.properties.defaultHostName}'", "'https://${name}.azurewebsites.net'"},

		{"no duplicate detection", "topic", "modules/servicebus.bicep", "requiresDuplicateDetection: true", "requiresDuplicateDetection: false"},
		{"window shorter than reconcile", "topic", "main.bicep", window, "param duplicateDetectionWindowMinutes int = 5"},
		{"window below 20 seconds", "topic", "main.parameters.json", beforeLogLevel, `"duplicateDetectionWindowMinutes": {"value": 0},
    ` + beforeLogLevel},
		{"window above 7 days", "topic", "main.parameters.json", beforeLogLevel, `"duplicateDetectionWindowMinutes": {"value": 10081},
    ` + beforeLogLevel},
		{"window bound below 20 seconds", "topic", "main.bicep", windowBounds, "@minValue(0)\n@maxValue(10080)\n" + window},
		{"window bound above 7 days", "topic", "main.bicep", windowBounds, "@minValue(1)\n@maxValue(20160)\n" + window},
		{"window without an upper bound", "topic", "main.bicep", windowBounds, "@minValue(1)\n" + window},
		{"window as a free-form string", "topic", sb, "'PT${duplicateDetectionWindowMinutes}M'", "'P${duplicateDetectionWindowMinutes}'"},
		{"review filter added beside match-all", "topic", "modules/servicebus.bicep", "name: '$Default'", "name: 'not-passed'"},
		{"review filter on passed", "topic", "modules/servicebus.bicep", "sqlExpression: 'passed = false'", "sqlExpression: 'passed = true'"},
		{"basic namespace", "topic", "modules/servicebus.bicep", "name: 'Standard'\n    tier: 'Standard'", "name: 'Basic'\n    tier: 'Basic'"},

		{"store table missing", "tables", "main.bicep", "  'sessions'\n", "  'session'\n"},
	}
}

// mustReport holds the mutations that must be caught for a stated reason: their problems must
// contain this text.
var mustReport = map[string]string{
	"ftpsState back in siteConfig":              "siteConfig.ftpsState",
	"linuxFxVersion in siteConfig":              "siteConfig.LinuxFxVersion",
	"alwaysOn in a sites/config 'web' resource": "properties.alwaysOn",
	"vnetRouteAllEnabled on the site":           "properties.vnetRouteAllEnabled",
	"preWarmedInstanceCount in siteConfig":      "siteConfig.preWarmedInstanceCount",
	"scale-out limit as an app setting":         "website_max_dynamic_application_scale_out",
	"service bus host name hard-coded":          "servicebus.windows.net",
	"service bus namespace as a URL":            "SERVICEBUS_NAMESPACE must be a host name",
	"service bus host name with its port":       "SERVICEBUS_NAMESPACE must be a host name",
	"window below 20 seconds":                   "below PT20S",
	"window above 7 days":                       "above P7D",
	"window bound below 20 seconds":             "@minValue(0)",
	"window bound above 7 days":                 "@maxValue(20160)",
	"window without an upper bound":             "no @maxValue",
	"window shorter than reconcile":             "resend horizon",
}

// TestPoliciesCatchMutations proves every policy can fail: each case breaks a copy of infra/ the
// way a careless edit would, and the policy it names must report it.
func TestPoliciesCatchMutations(t *testing.T) {
	base := loadDeployment(t, ".")
	cases := staticMutations()

	// Derived from the handler: removing any setting config.Load requires must fail the policy.
	required, err := base.requiredSettings()
	if err != nil {
		t.Fatal(err)
	}
	if len(required) == 0 {
		t.Fatal("config.Load requires none of the app settings: the settings mutations below would test nothing")
	}
	settingsFile, _, err := base.appSettings()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range required {
		line := regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(name) + `:.*\n`).FindString(base.raw[settingsFile.Path])
		if line == "" {
			t.Fatalf("%s: no line sets %s", settingsFile.Path, name)
		}
		cases = append(cases, mutation{"required setting " + name + " removed", "settings", settingsFile.Path, line, ""})
	}

	for name := range mustReport {
		if !slices.ContainsFunc(cases, func(c mutation) bool { return c.name == name }) {
			t.Errorf("mustReport names %q, which is no mutation", name)
		}
	}

	byName := map[string]policy{}
	for _, p := range policies() {
		byName[p.name] = p
	}
	root := t.TempDir()
	var dirs []string
	for i, c := range cases {
		dir := fmt.Sprintf("m%02d", i)
		copyInfra(t, filepath.Join(root, dir))
		mutate(t, filepath.Join(root, dir, filepath.FromSlash(c.file)), c.old, c.new)
		dirs = append(dirs, dir)
	}
	mutated := loadDeployments(t, root, dirs...)
	for i, c := range cases {
		t.Run(c.policy+"/"+c.name, func(t *testing.T) {
			p, ok := byName[c.policy]
			if !ok {
				t.Fatalf("no policy %q", c.policy)
			}
			problems := p.check(mutated[dirs[i]])
			if len(problems) == 0 {
				t.Fatalf("policy %s accepted infra/ with %q (%s)", c.policy, c.name, c.file)
			}
			caught := strings.Join(problems, "; ")
			if want := mustReport[c.name]; !strings.Contains(caught, want) {
				t.Fatalf("policy %s caught %q, but not for its reason (%q): %s", c.policy, c.name, want, caught)
			}
			t.Logf("caught: %s", caught)
		})
	}
}

// copyInfra copies the templates and parameter files of infra/ into dst.
func copyInfra(t *testing.T, dst string) {
	t.Helper()
	err := filepath.WalkDir(".", func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, p)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !strings.HasSuffix(p, ".bicep") && !strings.HasSuffix(p, ".json") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mutate(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	switch {
	case old == "":
		text += new
	case strings.Contains(text, old):
		text = strings.Replace(text, old, new, 1)
	default:
		t.Fatalf("%s no longer contains %q: update the mutation", file, old)
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
