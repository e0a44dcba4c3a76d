package infra

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/handlers"
)

// A policy returns one line per violation in the deployment.
type policy struct {
	name  string
	check func(d *deployment) []string
}

func policies() []policy {
	return []policy{
		{"no-key-auth", noKeyAuth},
		{"no-secrets", noSecrets},
		{"settings", appSettingsComplete},
		{"roles", rolesAssigned},
		{"flex", flexConsumption},
		{"flex-unsupported", flexUnsupported},
		{"cloud-neutral", cloudNeutral},
		{"topic", eventsTopic},
		{"tables", tablesCreated},
	}
}

func TestPoliciesHold(t *testing.T) {
	d := loadDeployment(t, ".")
	for _, p := range policies() {
		t.Run(p.name, func(t *testing.T) {
			for _, problem := range p.check(d) {
				t.Error(problem)
			}
		})
	}
}

// wantLiteral is a property every declared resource of a type must set to a literal value.
type wantLiteral struct {
	typ  string
	path []string
	want any
}

// noKeyAuth: every data plane refuses local (key, SAS, basic) auth, and every resource type in the
// templates is known to this policy, so a new data plane cannot slip in unchecked.
func noKeyAuth(d *deployment) []string {
	rules := []wantLiteral{
		{"Microsoft.Storage/storageAccounts", []string{"properties", "allowSharedKeyAccess"}, false},
		{"Microsoft.ServiceBus/namespaces", []string{"properties", "disableLocalAuth"}, true},
		{"Microsoft.CognitiveServices/accounts", []string{"properties", "disableLocalAuth"}, true},
		{"Microsoft.Insights/components", []string{"properties", "DisableLocalAuth"}, true},
		{"Microsoft.OperationalInsights/workspaces", []string{"properties", "features", "disableLocalAuth"}, true},
		{"Microsoft.KeyVault/vaults", []string{"properties", "enableRbacAuthorization"}, true},
		{"Microsoft.Web/sites/basicPublishingCredentialsPolicies", []string{"properties", "allow"}, false},
	}
	// Types with no key-based access of their own (sites are covered by their publishing policies).
	keyless := []string{
		"Microsoft.ManagedIdentity/userAssignedIdentities",
		"Microsoft.Authorization/roleAssignments",
		"Microsoft.Web/serverfarms",
		"Microsoft.Web/sites",
		"Microsoft.Web/sites/config",
		"Microsoft.Storage/storageAccounts/blobServices",
		"Microsoft.Storage/storageAccounts/blobServices/containers",
		"Microsoft.Storage/storageAccounts/tableServices",
		"Microsoft.Storage/storageAccounts/tableServices/tables",
		"Microsoft.ServiceBus/namespaces/topics",
		"Microsoft.ServiceBus/namespaces/topics/subscriptions",
		"Microsoft.ServiceBus/namespaces/topics/subscriptions/rules",
	}
	var problems []string
	known := slices.Clone(keyless)
	for _, r := range rules {
		known = append(known, r.typ)
		problems = append(problems, requireLiterals(d, r)...)
	}
	for _, f := range d.sortedFiles() {
		for _, r := range f.Resources {
			if !r.Existing && !slices.Contains(known, typeName(r.Type)) {
				problems = append(problems, fmt.Sprintf("%s:%d: resource type %s is not covered by the no-key-auth policy: add its local-auth switch to noKeyAuth", f.Path, r.Line, typeName(r.Type)))
			}
		}
	}
	for _, site := range d.resources("Microsoft.Web/sites") {
		for _, name := range []string{"ftp", "scm"} {
			if !hasChild(d, site, "Microsoft.Web/sites/basicPublishingCredentialsPolicies", name) {
				problems = append(problems, fmt.Sprintf("%v: no basicPublishingCredentialsPolicies '%s' with allow: false (publishing passwords stay on)", site, name))
			}
		}
	}
	return problems
}

func requireLiterals(d *deployment, r wantLiteral) []string {
	var problems []string
	for _, l := range d.resources(r.typ) {
		got := field(l.res.Body, r.path...)
		if got != r.want {
			problems = append(problems, fmt.Sprintf("%v: %s must be the literal %v, found %s", l, strings.Join(r.path, "."), r.want, show(got)))
		}
	}
	return problems
}

func hasChild(d *deployment, parent located, typ, name string) bool {
	for _, l := range d.resources(typ) {
		if isChildOf(l, parent) && field(l.res.Body, "name") == name {
			return true
		}
	}
	return false
}

// isChildOf: child is nested in parent or names it as `parent:`.
func isChildOf(child, parent located) bool {
	if child.file != parent.file {
		return false
	}
	p, _ := exprOf(field(child.res.Body, "parent"))
	return p == parent.res.Symbol || child.res.Parent == parent.res.Symbol
}

func show(v any) string {
	if v == nil {
		return "nothing"
	}
	if s, ok := exprOf(v); ok {
		return "the expression " + s
	}
	return fmt.Sprintf("%#v", v)
}

// noSecrets: no key, SAS or connection string with a secret is read, passed or output anywhere in
// infra/, the templates take no secret input, and secret app settings are Key Vault references.
func noSecrets(d *deployment) []string {
	forbidden := []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`\blist[A-Z][A-Za-z]*\s*\(`), "a list*() call (listKeys, listConnectionStrings, …) reads keys"},
		{regexp.MustCompile(`(?i)AccountKey\s*=`), "a storage account key"},
		{regexp.MustCompile(`(?i)SharedAccess(Key|Signature)`), "a shared access key or signature"},
		{regexp.MustCompile(`(?i)\b(primary|secondary)(Key|ConnectionString|MasterKey)\b`), "a key property"},
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(d.raw)) {
		for i, line := range strings.Split(d.raw[name], "\n") {
			for _, f := range forbidden {
				if f.re.MatchString(line) {
					problems = append(problems, fmt.Sprintf("%s:%d: %s", name, i+1, f.what))
				}
			}
		}
	}
	exposes := regexp.MustCompile(`(?i)connectionstring|instrumentationkey|password|apikey`)
	for _, f := range d.sortedFiles() {
		for _, name := range slices.Sorted(maps.Keys(f.Params)) {
			if slices.Contains(f.Params[name].Decorators, "secure") {
				problems = append(problems, fmt.Sprintf("%s: @secure() param %s: the templates take no secret (the signing keys are created in Key Vault by scripts/deploy.sh)", f.Path, name))
			}
		}
		for _, o := range f.Outputs {
			src := fmt.Sprint(o.Value)
			switch {
			case slices.Contains(o.Decorators, "secure"):
				problems = append(problems, fmt.Sprintf("%s:%d: @secure() output %s: outputs carry no secrets", f.Path, o.Line, o.Name))
			case exposes.MatchString(o.Name + " " + src):
				problems = append(problems, fmt.Sprintf("%s:%d: output %s exposes a connection string or key", f.Path, o.Line, o.Name))
			}
		}
	}
	file, settings, err := d.appSettings()
	if err != nil {
		return append(problems, err.Error())
	}
	secretName := regexp.MustCompile(`KEY|SECRET|PASSWORD|TOKEN`)
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		value := settings[name]
		src, _ := exprOf(value)
		upper := strings.ToUpper(name)
		switch {
		case upper == "APPLICATIONINSIGHTS_CONNECTION_STRING":
			// Holds an ingestion id, not a credential: the component refuses it without Entra ID.
			if sym, ok := strings.CutSuffix(src, ".properties.ConnectionString"); !ok || !isType(file, sym, "Microsoft.Insights/components") {
				problems = append(problems, fmt.Sprintf("app setting %s must be an Application Insights component's properties.ConnectionString, found %s", name, show(value)))
			}
		case upper == "AZUREWEBJOBSSTORAGE" || strings.Contains(upper, "CONNECTION_STRING") || strings.Contains(upper, "CONNECTIONSTRING"):
			problems = append(problems, fmt.Sprintf("app setting %s is a connection string: use the identity-based form", name))
		case strings.Contains(src, "ConnectionString") || strings.Contains(src, "InstrumentationKey"):
			problems = append(problems, fmt.Sprintf("app setting %s carries a connection string", name))
		case secretName.MatchString(upper) && !isKeyVaultReference(value):
			problems = append(problems, fmt.Sprintf("app setting %s holds a secret: make it a Key Vault reference (@Microsoft.KeyVault(SecretUri=…))", name))
		}
	}
	return problems
}

func isKeyVaultReference(v any) bool {
	if s, ok := v.(string); ok {
		return strings.HasPrefix(s, "@Microsoft.KeyVault(")
	}
	m, _ := v.(map[string]any)
	parts, _ := m["$parts"].([]any)
	if len(parts) == 0 {
		return false
	}
	first, _ := parts[0].(string)
	return strings.HasPrefix(first, "@Microsoft.KeyVault(")
}

func isType(f *bicepFile, sym, typ string) bool {
	r, ok := f.symbol(sym)
	return ok && typeName(r.Type) == typ
}

// neededRole is a role the code needs and the scopes it may be assigned at (narrowest first).
type neededRole struct {
	name   string
	scopes []string
}

// rolesAssigned: exactly the roles the code needs are assigned (least privilege), each with a
// deterministic guid() name, on a resource scope, to a service principal.
func rolesAssigned(d *deployment) []string {
	needed := map[string]neededRole{
		"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": {"Storage Blob Data Owner (host storage, deployment container)", []string{"Microsoft.Storage/storageAccounts"}},
		"0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": {"Storage Table Data Contributor (session store)", []string{"Microsoft.Storage/storageAccounts/tableServices/tables", "Microsoft.Storage/storageAccounts"}},
		"69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": {"Azure Service Bus Data Sender (events; the app never receives)", []string{"Microsoft.ServiceBus/namespaces/topics", "Microsoft.ServiceBus/namespaces/queues"}},
		"9894cab4-e18a-44aa-828b-cb588cd6f2d7": {"Cognitive Services Face Recognizer (liveness sessions)", []string{"Microsoft.CognitiveServices/accounts"}},
		"4633458b-17de-408a-b874-0445c86b69e6": {"Key Vault Secrets User (CALLBACK_SIGNING_KEYS reference)", []string{"Microsoft.KeyVault/vaults/secrets", "Microsoft.KeyVault/vaults"}},
		"3913510d-42f4-4e42-8a64-420c390055eb": {"Monitoring Metrics Publisher (Entra ID telemetry)", []string{"Microsoft.Insights/components"}},
	}
	guidRE := regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	var problems []string
	assigned := map[string]bool{}
	for _, l := range d.resources("Microsoft.Authorization/roleAssignments") {
		roleSrc := d.substituteVars(l.file, fmt.Sprint(exprOrValue(field(l.res.Body, "properties", "roleDefinitionId"))))
		ids := guidRE.FindAllString(roleSrc, -1)
		if len(ids) != 1 {
			problems = append(problems, fmt.Sprintf("%v: roleDefinitionId must name one built-in role id, found %q", l, roleSrc))
			continue
		}
		id := strings.ToLower(ids[0])
		role, ok := needed[id]
		if !ok {
			problems = append(problems, fmt.Sprintf("%v: role %s is not one the code needs (least privilege)", l, id))
			continue
		}
		assigned[id] = true
		name, _ := exprOf(field(l.res.Body, "name"))
		if !strings.HasPrefix(name, "guid(") || !strings.Contains(strings.ToLower(d.substituteVars(l.file, name)), id) {
			problems = append(problems, fmt.Sprintf("%v: name must be guid(scope, principal, role id), found %s", l, show(field(l.res.Body, "name"))))
		}
		if pt := field(l.res.Body, "properties", "principalType"); pt != "ServicePrincipal" {
			problems = append(problems, fmt.Sprintf("%v: principalType must be 'ServicePrincipal' (avoids replication-delay failures), found %s", l, show(pt)))
		}
		scopeSym, _ := exprOf(field(l.res.Body, "scope"))
		scope, ok := l.file.symbol(scopeSym)
		if !ok {
			problems = append(problems, fmt.Sprintf("%v: %s must be scoped to a resource (one of %s), not the resource group", l, role.name, strings.Join(role.scopes, ", ")))
		} else if !slices.Contains(role.scopes, typeName(scope.Type)) {
			problems = append(problems, fmt.Sprintf("%v: %s is scoped to a %s; allowed: %s", l, role.name, typeName(scope.Type), strings.Join(role.scopes, ", ")))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(needed)) {
		if !assigned[id] {
			problems = append(problems, fmt.Sprintf("role %s (%s) is not assigned", needed[id].name, id))
		}
	}
	return problems
}

func exprOrValue(v any) any {
	if s, ok := exprOf(v); ok {
		return s
	}
	return v
}

// substituteVars replaces var references (x, or x.key for object vars) in src by their literal
// values, so role ids held in a var map can be read.
func (d *deployment) substituteVars(f *bicepFile, src string) string {
	ref := regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?`)
	return ref.ReplaceAllStringFunc(src, func(m string) string {
		sub := ref.FindStringSubmatch(m)
		v, ok := f.Vars[sub[1]]
		if !ok {
			return m
		}
		if sub[2] != "" {
			if s, ok := field(v, sub[2]).(string); ok {
				return s
			}
			return m
		}
		if s, ok := v.(string); ok {
			return s
		}
		return m
	})
}

// flexConsumption: the plan and app are Flex Consumption running the custom handler, deployed and
// authenticated through the user-assigned identity, with sizes as parameters.
func flexConsumption(d *deployment) []string {
	var problems []string
	plans := d.resources("Microsoft.Web/serverfarms")
	sites := d.resources("Microsoft.Web/sites")
	if len(plans) != 1 || len(sites) != 1 {
		return []string{fmt.Sprintf("want one plan and one function app (Flex allows one app per plan), found %d and %d", len(plans), len(sites))}
	}
	site := sites[0]
	for _, r := range []struct {
		at   located
		path string
		want any
	}{
		{plans[0], "sku.tier", "FlexConsumption"},
		{plans[0], "sku.name", "FC1"},
		{plans[0], "properties.reserved", true},
		{site, "kind", "functionapp,linux"},
		{site, "identity.type", "UserAssigned"},
		{site, "properties.httpsOnly", true},
		{site, "properties.functionAppConfig.runtime.name", "custom"},
		{site, "properties.functionAppConfig.runtime.version", "1.0"},
		{site, "properties.functionAppConfig.deployment.storage.type", "blobContainer"},
		{site, "properties.functionAppConfig.deployment.storage.authentication.type", "UserAssignedIdentity"},
	} {
		if got := field(r.at.res.Body, strings.Split(r.path, ".")...); got != r.want {
			problems = append(problems, fmt.Sprintf("%v: %s must be %v, found %s", r.at, r.path, r.want, show(got)))
		}
	}
	if _, ok := exprOf(field(site.res.Body, "properties", "keyVaultReferenceIdentity")); !ok {
		problems = append(problems, fmt.Sprintf("%v: properties.keyVaultReferenceIdentity must name the user-assigned identity (Key Vault references use the system identity otherwise)", site))
	}
	for _, p := range []string{"instanceMemoryMB", "maximumInstanceCount"} {
		v := field(site.res.Body, "properties", "functionAppConfig", "scaleAndConcurrency", p)
		if src, ok := exprOf(v); !ok || site.file.Params[src].Type == "" {
			problems = append(problems, fmt.Sprintf("%v: scaleAndConcurrency.%s must be a parameter, found %s", site, p, show(v)))
		}
	}
	if field(site.res.Body, "properties", "siteConfig", "appSettings") != nil {
		problems = append(problems, fmt.Sprintf("%v: siteConfig.appSettings: keep every setting in the one sites/config 'appsettings' resource, which replaces them", site))
	}
	_, settings, err := d.appSettings()
	if err != nil {
		return append(problems, err.Error())
	}
	for name, want := range map[string]string{
		"AzureWebJobsStorage__accountName":          "",
		"AzureWebJobsStorage__clientId":             "",
		"AzureWebJobsStorage__credential":           "managedidentity",
		"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
	} {
		v, ok := settings[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("app setting %s is missing (identity-based host storage and telemetry)", name))
			continue
		}
		if s := fmt.Sprint(exprOrValue(v)); !strings.Contains(s, want) {
			problems = append(problems, fmt.Sprintf("app setting %s must contain %q, found %s", name, want, show(v)))
		}
	}
	return problems
}

// flexDeprecatedProperties are the site properties Learn says not to set on a Flex Consumption app:
// "App settings reference for Azure Functions", section "Flex Consumption plan deprecations"
// (https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).
// The table writes them as properties.<name>, but ARM keeps most in properties.siteConfig (and in a
// sites/config 'web' resource), so every one is looked for in all three places. Names compare
// case-insensitively, as ARM does.
var flexDeprecatedProperties = []struct{ name, instead string }{
	{"alwaysOn", "not valid on Flex"},
	{"containerSize", "use functionAppConfig.scaleAndConcurrency.instanceMemoryMB"},
	{"ftpsState", "Flex has no FTPS; the 'ftp' basicPublishingCredentialsPolicies keeps FTP off"},
	{"isReserved", "not valid on Flex"},
	{"reserved", "ARM's name for isReserved; not valid on a Flex site (the plan sets it)"},
	{"isXenon", "not valid on Flex"},
	{"javaVersion", "use functionAppConfig.runtime"},
	{"linuxFxVersion", "use functionAppConfig.runtime"},
	{"netFrameworkVersion", "use functionAppConfig.runtime"},
	{"powerShellVersion", "use functionAppConfig.runtime"},
	{"functionAppScaleLimit", "use functionAppConfig.scaleAndConcurrency.maximumInstanceCount"},
	{"preWarmedInstanceCount", "use functionAppConfig.scaleAndConcurrency.alwaysReady"},
	{"use32BitWorkerProcess", "Flex is 64-bit only"},
	{"vnetBackupRestoreEnabled", "Flex networking does not use it"},
	{"vnetContentShareEnabled", "Flex networking does not use it"},
	{"vnetImagePullEnabled", "Flex networking does not use it"},
	{"vnetRouteAllEnabled", "Flex networking does not use it"},
	{"windowsFxVersion", "not valid on Flex"},
}

// flexUnsupportedSettings are the app settings of the same Learn table, plus WEBSITE_TIME_ZONE and TZ
// (Flex runs UTC). It holds every setting of functions-custom-handler.md §9 "settings not allowed"
// (TestFlexSettingsCoverReference).
var flexUnsupportedSettings = []string{
	"ENABLE_ORYX_BUILD", "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION",
	"FUNCTIONS_MAX_HTTP_CONCURRENCY", "FUNCTIONS_WORKER_PROCESS_COUNT", "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
	"SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTOVERVNET",
	"WEBSITE_CONTENTSHARE", "WEBSITE_DNS_SERVER", "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
	"WEBSITE_NODE_DEFAULT_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
	"WEBSITE_VNET_ROUTE_ALL", "WEBSITE_TIME_ZONE", "TZ",
}

// flexUnsupported: no Flex Consumption site sets a deprecated property (on the site, in siteConfig
// or in a sites/config 'web' resource) or app setting.
func flexUnsupported(d *deployment) []string {
	var problems []string
	configs := d.resources("Microsoft.Web/sites/config")
	for _, site := range flexSites(d) {
		problems = append(problems, deprecatedProperties(d, site, []string{"properties"})...)
		problems = append(problems, deprecatedProperties(d, site, []string{"properties", "siteConfig"})...)
		for _, c := range configs {
			if isChildOf(c, site) && field(c.res.Body, "name") == "web" {
				problems = append(problems, deprecatedProperties(d, c, []string{"properties"})...)
			}
		}
	}
	_, settings, err := d.appSettings()
	if err != nil {
		return append(problems, err.Error())
	}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		if slices.ContainsFunc(flexUnsupportedSettings, func(s string) bool { return strings.EqualFold(s, name) }) {
			problems = append(problems, fmt.Sprintf("app setting %s is not supported on Flex Consumption (Learn: Flex Consumption plan deprecations)", name))
		}
	}
	return problems
}

// deprecatedProperties reports the flexDeprecatedProperties set in the object at path of l.
func deprecatedProperties(d *deployment, l located, path []string) []string {
	obj := field(l.res.Body, path...)
	if _, ok := exprOf(obj); ok {
		obj, _ = d.eval(l.file, obj) // e.g. siteConfig: someVar
	}
	m, ok := obj.(map[string]any)
	if !ok || isExpr(m) {
		return nil
	}
	var problems []string
	for _, key := range slices.Sorted(maps.Keys(m)) {
		for _, p := range flexDeprecatedProperties {
			if strings.EqualFold(key, p.name) {
				problems = append(problems, fmt.Sprintf("%v: %s.%s is not supported on Flex Consumption (%s)", l, strings.Join(path, "."), key, p.instead))
			}
		}
	}
	return problems
}

// flexSites are the function apps on a Flex Consumption plan: serverFarmId names a FlexConsumption
// plan of the same file, or, when it names none, the deployment declares one.
func flexSites(d *deployment) []located {
	isFlex := func(plan resource) bool {
		return strings.EqualFold(fmt.Sprint(field(plan.Body, "sku", "tier")), "FlexConsumption") ||
			strings.EqualFold(fmt.Sprint(field(plan.Body, "sku", "name")), "FC1")
	}
	anyFlex := slices.ContainsFunc(d.resources("Microsoft.Web/serverfarms"), func(l located) bool { return isFlex(l.res) })
	var out []located
	for _, site := range d.resources("Microsoft.Web/sites") {
		src, _ := exprOf(field(site.res.Body, "properties", "serverFarmId"))
		if sym, ok := strings.CutSuffix(src, ".id"); ok {
			if plan, ok := site.file.symbol(sym); ok && typeName(plan.Type) == "Microsoft.Web/serverfarms" {
				if isFlex(plan) {
					out = append(out, site)
				}
				continue
			}
		}
		if anyFlex {
			out = append(out, site)
		}
	}
	return out
}

// cloudSuffixes are public-cloud host name suffixes that sovereign clouds replace. Templates take
// them from environment() or from the resource instead, so one template deploys to every cloud.
var cloudSuffixes = []struct {
	suffix, instead string
	re              *regexp.Regexp
}{
	{suffix: "servicebus.windows.net", instead: "the namespace's properties.serviceBusEndpoint"},
	{suffix: "core.windows.net", instead: "environment().suffixes.storage or the account's properties.primaryEndpoints"},
	{suffix: "vault.azure.net", instead: "environment().suffixes.keyvaultDns or the vault's properties.vaultUri"},
	{suffix: "cognitiveservices.azure.com", instead: "the account's properties.endpoint"},
	{suffix: "azurewebsites.net", instead: "the site's properties.defaultHostName"},
}

func init() {
	for i := range cloudSuffixes {
		cloudSuffixes[i].re = regexp.MustCompile(`(?i)(^|[^a-z0-9-])` + regexp.QuoteMeta(cloudSuffixes[i].suffix) + `($|[^a-z0-9-])`)
	}
}

// cloudNeutral: no value in a template (param default, var, resource, module argument, output)
// hard-codes a public-cloud host name suffix. Comments and descriptions are not values, and
// main.parameters.json is left out: a parameter value is where one deployment's own host names go.
func cloudNeutral(d *deployment) []string {
	var problems []string
	check := func(where string, v any) {
		walkStrings(v, func(s string) {
			for _, c := range cloudSuffixes {
				if c.re.MatchString(s) {
					problems = append(problems, fmt.Sprintf("%s hard-codes %s, which sovereign clouds name differently: use %s", where, c.suffix, c.instead))
				}
			}
		})
	}
	for _, f := range d.sortedFiles() {
		for _, name := range slices.Sorted(maps.Keys(f.Params)) {
			check(fmt.Sprintf("%s: param %s", f.Path, name), f.Params[name].Default)
		}
		for _, name := range slices.Sorted(maps.Keys(f.Vars)) {
			check(fmt.Sprintf("%s: var %s", f.Path, name), f.Vars[name])
		}
		for _, r := range f.Resources {
			check(located{f, r}.String(), r.Body)
		}
		for _, m := range f.Modules {
			check(fmt.Sprintf("%s: module %s", f.Path, m.Symbol), m.Body)
		}
		for _, o := range f.Outputs {
			check(fmt.Sprintf("%s:%d: output %s", f.Path, o.Line, o.Name), o.Value)
		}
	}
	return problems
}

// walkStrings calls fn with every string literal in v and the source of every expression.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	case map[string]any:
		if src, ok := exprOf(v); ok {
			fn(src) // the whole source: its $parts and $ternary hold nothing more
			return
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			walkStrings(v[k], fn)
		}
	}
}

// resendHorizon is how long after a final state Reconcile resends its event with de-duplication
// assured (handlers.ResendHorizon): the topic's window must exceed it, so that a resend of an
// event whose first send did arrive is dropped.
const resendHorizon = handlers.ResendHorizon

// Service Bus keeps duplicate detection history for 20 seconds to 7 days: remarks of
// QueueProperties.DuplicateDetectionHistoryTimeWindow (Azure.Messaging.ServiceBus, Learn .NET API
// reference).
const (
	minDuplicateWindow = 20 * time.Second
	maxDuplicateWindow = 7 * 24 * time.Hour
)

// eventsTopic: a Standard topic with duplicate detection over a window Service Bus accepts and
// longer than Reconcile's resend horizon, and the `all` and filtered `review` subscriptions of the
// issue.
func eventsTopic(d *deployment) []string {
	var problems []string
	for _, l := range d.resources("Microsoft.ServiceBus/namespaces") {
		if sku := field(l.res.Body, "sku", "name"); sku != "Standard" && sku != "Premium" {
			problems = append(problems, fmt.Sprintf("%v: sku must be Standard or Premium (Basic has no topics or duplicate detection), found %s", l, show(sku)))
		}
	}
	topics := d.resources("Microsoft.ServiceBus/namespaces/topics")
	if len(topics) == 0 {
		problems = append(problems, "no Service Bus topic")
	}
	for _, l := range topics {
		if v := field(l.res.Body, "properties", "requiresDuplicateDetection"); v != true {
			problems = append(problems, fmt.Sprintf("%v: requiresDuplicateDetection must be true, found %s", l, show(v)))
		}
		problems = append(problems, d.duplicateWindow(l, field(l.res.Body, "properties", "duplicateDetectionHistoryTimeWindow"))...)
	}
	subs := map[string]located{}
	for _, l := range d.resources("Microsoft.ServiceBus/namespaces/topics/subscriptions") {
		if name, ok := field(l.res.Body, "name").(string); ok {
			subs[name] = l
		}
	}
	if _, ok := subs["all"]; !ok {
		problems = append(problems, "no subscription 'all'")
	}
	review, ok := subs["review"]
	if !ok {
		return append(problems, "no subscription 'review'")
	}
	filtered := false
	for _, l := range d.resources("Microsoft.ServiceBus/namespaces/topics/subscriptions/rules") {
		parent, _ := exprOf(field(l.res.Body, "parent"))
		if l.file != review.file || (l.res.Parent != review.res.Symbol && parent != review.res.Symbol) {
			continue
		}
		filtered = field(l.res.Body, "name") == "$Default" &&
			field(l.res.Body, "properties", "filterType") == "SqlFilter" &&
			field(l.res.Body, "properties", "sqlFilter", "sqlExpression") == "passed = false"
	}
	if !filtered {
		problems = append(problems, fmt.Sprintf("%v: subscription 'review' needs its $Default rule replaced by the SQL filter 'passed = false' (any other rule is OR'ed with match-all)", review))
	}
	return problems
}

// duplicateWindow checks a topic's window as deployed with the parameter defaults and with
// main.parameters.json, and that a window built from a parameter is bounded in main.bicep, so
// Azure refuses a value Service Bus would not take before it deploys anything.
func (d *deployment) duplicateWindow(l located, raw any) []string {
	var problems []string
	seen := map[string]bool{}
	for _, s := range []struct {
		name   string
		params map[string]any
	}{{"the defaults", map[string]any{}}, {"main.parameters.json", d.parameters}} {
		v, ok := d.withParameters(s.params).eval(l.file, raw)
		window, isString := v.(string)
		if !ok || !isString {
			return append(problems, fmt.Sprintf("%v: duplicateDetectionHistoryTimeWindow must be an ISO 8601 duration known at deploy time, found %s", l, show(raw)))
		}
		if seen[window] {
			continue
		}
		seen[window] = true
		if problem := windowProblem(window); problem != "" {
			problems = append(problems, fmt.Sprintf("%v: duplicate detection window with %s: %s", l, s.name, problem))
		}
	}
	if _, literal := raw.(string); literal {
		return problems
	}
	name, ok := d.rootParam(l.file, raw)
	if !ok {
		return append(problems, fmt.Sprintf("%v: duplicateDetectionHistoryTimeWindow must be a literal or built from one main.bicep parameter, found %s", l, show(raw)))
	}
	p := d.files[mainFile].Params[name]
	if p.Type != "int" {
		problems = append(problems, fmt.Sprintf("%s: param %s must be an int with @minValue and @maxValue, so a window Service Bus refuses fails before deployment", mainFile, name))
	}
	for _, bound := range []string{"minValue", "maxValue"} {
		args := p.DecoratorArgs[bound]
		if len(args) != 1 {
			problems = append(problems, fmt.Sprintf("%s: param %s has no @%s: a duplicate detection window outside PT20S..P7D would reach Service Bus", mainFile, name, bound))
			continue
		}
		v, _ := d.withParameters(map[string]any{name: args[0]}).eval(l.file, raw)
		window, _ := v.(string)
		if w, err := isoDuration(window); err != nil || w < minDuplicateWindow || w > maxDuplicateWindow {
			problems = append(problems, fmt.Sprintf("%s: @%s(%v) of param %s allows the window %q, outside PT20S..P7D", mainFile, bound, text(args[0]), name, window))
		}
	}
	return problems
}

// windowProblem says why a duplicate detection window is wrong, or "".
func windowProblem(s string) string {
	w, err := isoDuration(s)
	switch {
	case err != nil:
		return err.Error()
	case w < minDuplicateWindow:
		return fmt.Sprintf("%s is below PT20S, the shortest window Service Bus accepts", s)
	case w > maxDuplicateWindow:
		return fmt.Sprintf("%s is above P7D, the longest window Service Bus accepts", s)
	case w <= resendHorizon:
		return fmt.Sprintf("%s does not exceed Reconcile's resend horizon (%v, handlers.ResendHorizon)", s, resendHorizon)
	}
	return ""
}

// withParameters is d with other main.parameters.json values.
func (d *deployment) withParameters(params map[string]any) *deployment {
	c := *d
	c.parameters = params
	return &c
}

// rootParam follows raw (a parameter, or an interpolated string with one parameter in it) back
// through the module arguments to the main.bicep parameter it comes from.
func (d *deployment) rootParam(f *bicepFile, raw any) (string, bool) {
	for range 16 {
		m, _ := raw.(map[string]any)
		if parts, ok := m["$parts"].([]any); ok {
			var exprs []any
			for _, p := range parts {
				if _, ok := exprOf(p); ok {
					exprs = append(exprs, p)
				}
			}
			if len(exprs) != 1 {
				return "", false
			}
			raw = exprs[0]
			continue
		}
		src, ok := exprOf(raw)
		if _, isParam := f.Params[src]; !ok || !isParam {
			return "", false
		}
		if f.Path == mainFile {
			return src, true
		}
		callers := d.callers(f, src)
		if len(callers) != 1 {
			return "", false
		}
		f, raw = callers[0].file, callers[0].arg
	}
	return "", false
}

// isoDuration parses the P[nD][T[nH][nM][nS]] durations Service Bus takes.
func isoDuration(s string) (time.Duration, error) {
	m := regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`).FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("not an ISO 8601 duration: %q", s)
	}
	var total time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		var n int
		if m[i+1] != "" {
			fmt.Sscan(m[i+1], &n)
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

// tablesCreated: the table internal/store uses exists before the app starts, so the identity
// needs data roles only.
func tablesCreated(d *deployment) []string {
	src, err := os.ReadFile(filepath.Join(d.repo, "internal", "store", "store.go"))
	if err != nil {
		return []string{fmt.Sprintf("reading the store's table name: %v", err)}
	}
	m := regexp.MustCompile(`tableBaseName\s*=\s*"([A-Za-z][A-Za-z0-9]*)"`).FindSubmatch(src)
	if m == nil {
		return []string{"internal/store/store.go no longer declares tableBaseName: update tablesCreated to find the store's table name"}
	}
	want := string(m[1])
	var names []string
	for _, l := range d.resources("Microsoft.Storage/storageAccounts/tableServices/tables") {
		name := field(l.res.Body, "name")
		if l.res.Loop != "" {
			name = map[string]any{"$expr": l.res.Loop}
		}
		v, _ := d.eval(l.file, name)
		switch v := v.(type) {
		case string:
			names = append(names, v)
		case []any:
			for _, n := range v {
				names = append(names, fmt.Sprint(n))
			}
		}
	}
	if !slices.Contains(names, want) {
		return []string{fmt.Sprintf("table %q of internal/store is not created (tables found: %v)", want, names)}
	}
	return nil
}
