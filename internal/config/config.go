// Package config reads the app settings of design §7 from the environment and validates them all at
// once, so a misconfigured app fails at start with one message naming every problem.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/origin"
)

// Config is the validated configuration of the handler.
type Config struct {
	ListenAddr string // 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT, or :7071 without the host

	FaceEndpoint  string
	FaceAPIKey    string // optional; without it the handler uses Entra ID
	AzureClientID string // optional; selects a user-assigned managed identity

	QuickLinkEndpoint string
	PublicBaseURL     *url.URL

	// CallbackSigningKeys are the HMAC keys; the first signs, all verify.
	CallbackSigningKeys [][]byte

	// ReturnURLAllowedOrigins holds normalized origins (scheme://host[:port], default port dropped).
	ReturnURLAllowedOrigins []string

	TablesEndpoint         string
	TablesConnectionString string

	ServiceBusNamespace        string
	ServiceBusConnectionString string
	ServiceBusEntity           string

	DefaultMode        liveness.Mode
	ReconcileSchedule  string
	DeleteFaceSessions bool
	// AbandonAfter is ABANDON_AFTER_SECONDS (default 120, 1 to 86400): how long after a user
	// returned without a finished attempt the session is recorded abandoned (design §4).
	AbandonAfter time.Duration
	// Retention is RETENTION_DAYS (default 30, 1 to 3650): how long after its final state a
	// session and its sent event are kept before Reconcile deletes them.
	Retention time.Duration
	LogLevel  slog.Level
}

// Error lists every missing or malformed setting. It never contains a setting's value.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

// Minimum decoded size of a callback signing key: HMAC-SHA256 wants at least its output size.
const minSigningKeyBytes = 32

// Load reads the settings through getenv (os.Getenv in production).
func Load(getenv func(string) string) (*Config, error) {
	r := reader{getenv: getenv}
	c := &Config{}

	c.ListenAddr = ":7071"
	if port := r.get("FUNCTIONS_CUSTOMHANDLER_PORT"); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			r.bad("FUNCTIONS_CUSTOMHANDLER_PORT must be a TCP port number")
		}
		c.ListenAddr = net.JoinHostPort("127.0.0.1", port)
	}

	c.FaceEndpoint = strings.TrimRight(r.url("FACE_ENDPOINT", true, ""), "/")
	c.FaceAPIKey = r.get("FACE_API_KEY")
	c.AzureClientID = r.get("AZURE_CLIENT_ID")
	c.QuickLinkEndpoint = strings.TrimRight(r.url("QUICKLINK_ENDPOINT", false, "https://liveness.face.azure.com"), "/")
	if base := r.url("PUBLIC_BASE_URL", true, ""); base != "" {
		c.PublicBaseURL, _ = url.Parse(strings.TrimRight(base, "/"))
	}
	c.CallbackSigningKeys = r.signingKeys("CALLBACK_SIGNING_KEYS")
	c.ReturnURLAllowedOrigins = r.origins("RETURN_URL_ALLOWED_ORIGINS")

	c.TablesEndpoint = r.url("TABLES_ENDPOINT", false, "")
	c.TablesConnectionString = r.get("TABLES_CONNECTION_STRING")
	if c.TablesEndpoint == "" && c.TablesConnectionString == "" {
		r.bad("one of TABLES_ENDPOINT or TABLES_CONNECTION_STRING is required")
	}
	if c.TablesConnectionString != "" && !strings.Contains(strings.ToLower(c.TablesConnectionString), "accountname=") {
		r.bad("TABLES_CONNECTION_STRING is not a storage connection string (no AccountName)")
	} else if c.TablesConnectionString != "" && !tablesOverTLSOrLoopback(c.TablesConnectionString) {
		r.bad("TABLES_CONNECTION_STRING must use https (http only for a loopback TableEndpoint)")
	}

	c.ServiceBusNamespace = r.get("SERVICEBUS_NAMESPACE")
	if ns := c.ServiceBusNamespace; ns != "" && (strings.Contains(ns, "/") || strings.Contains(ns, ":")) {
		r.bad("SERVICEBUS_NAMESPACE must be a host name such as <name>.servicebus.windows.net")
	}
	c.ServiceBusConnectionString = r.get("SERVICEBUS_CONNECTION_STRING")
	switch cs := c.ServiceBusConnectionString; {
	case cs == "" && c.ServiceBusNamespace == "":
		r.bad("one of SERVICEBUS_NAMESPACE or SERVICEBUS_CONNECTION_STRING is required")
	case cs != "" && c.ServiceBusNamespace != "":
		r.bad("set only one of SERVICEBUS_NAMESPACE or SERVICEBUS_CONNECTION_STRING")
	case cs == "":
	case !strings.HasPrefix(strings.ToLower(cs), "endpoint=sb://"):
		r.bad("SERVICEBUS_CONNECTION_STRING must start with Endpoint=sb://")
	default:
		if problem := serviceBusEmulatorProblem(cs); problem != "" {
			r.bad("SERVICEBUS_CONNECTION_STRING %s", problem)
		}
	}
	c.ServiceBusEntity = r.getDefault("SERVICEBUS_ENTITY", "liveness-events")
	if !validEntityName(c.ServiceBusEntity) {
		r.bad("SERVICEBUS_ENTITY must be a Service Bus queue or topic name (letters, digits, '.', '-', '_', '/' between segments; at most %d characters)", maxEntityNameLen)
	}

	c.DefaultMode = liveness.Mode(r.getDefault("LIVENESS_DEFAULT_MODE", string(liveness.ModePassiveActive)))
	if !c.DefaultMode.Valid() {
		r.bad("LIVENESS_DEFAULT_MODE must be Passive or PassiveActive")
	}
	c.ReconcileSchedule = r.getDefault("RECONCILE_SCHEDULE", "0 */1 * * * *")
	if len(strings.Fields(c.ReconcileSchedule)) != 6 {
		r.bad("RECONCILE_SCHEDULE must be an NCRONTAB expression of six fields")
	}
	c.DeleteFaceSessions = r.bool("DELETE_FACE_SESSIONS", true)
	c.AbandonAfter = time.Duration(r.int("ABANDON_AFTER_SECONDS", 120, 1, 86400)) * time.Second
	c.Retention = time.Duration(r.int("RETENTION_DAYS", 30, 1, 3650)) * 24 * time.Hour
	c.LogLevel = r.logLevel("LOG_LEVEL")

	if len(r.problems) > 0 {
		return nil, &Error{Problems: r.problems}
	}
	return c, nil
}

type reader struct {
	getenv   func(string) string
	problems []string
}

func (r *reader) get(name string) string { return strings.TrimSpace(r.getenv(name)) }

func (r *reader) getDefault(name, def string) string {
	if v := r.get(name); v != "" {
		return v
	}
	return def
}

func (r *reader) bad(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// url returns an absolute http(s) URL setting, or def when unset.
func (r *reader) url(name string, required bool, def string) string {
	v := r.get(name)
	if v == "" {
		if required {
			r.bad("%s is required", name)
		}
		return def
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		r.bad("%s must be an absolute http(s) URL without credentials, query or fragment", name)
		return ""
	}
	// Credentials and tokens travel to these endpoints, and azcore refuses to send them over
	// plain http anyway: http is for stand-ins on this machine only.
	if u.Scheme == "http" && !origin.IsLoopback(u.Hostname()) {
		r.bad("%s must use https (http only for a loopback host)", name)
		return ""
	}
	return v
}

// tablesOverTLSOrLoopback reports whether a storage connection string reaches its table service
// over https, or over http on this machine (Azurite): the same rule as the URL settings. Its
// table endpoint is TableEndpoint when set, else built from DefaultEndpointsProtocol (https when
// absent) and the account's host name, which is never loopback.
func tablesOverTLSOrLoopback(cs string) bool {
	fields := connectionStringFields(cs)
	if ep, ok := fields["tableendpoint"]; ok {
		u, err := url.Parse(ep)
		return err == nil && (strings.EqualFold(u.Scheme, "https") || origin.IsLoopback(u.Hostname()))
	}
	return !strings.EqualFold(fields["defaultendpointsprotocol"], "http")
}

// serviceBusEmulatorProblem says why a Service Bus connection string would send its key in clear
// to another machine, or "". UseDevelopmentEmulator makes azservicebus speak plain AMQP (no TLS)
// and send the SAS token as is, so it is for a stand-in on this machine only.
func serviceBusEmulatorProblem(cs string) string {
	ep, err := ServiceBusEndpoint(cs)
	switch {
	case err != nil:
		return err.Error()
	case !ep.Emulator:
		return ""
	}
	if u, err := url.Parse("sb://" + ep.Host); err != nil || u.Hostname() == "" || !origin.IsLoopback(u.Hostname()) {
		return "with UseDevelopmentEmulator=true must have a loopback Endpoint host"
	}
	return ""
}

// ServiceBusAddress is where a Service Bus connection string points: Host is the Endpoint's
// host[:port] (empty without an Endpoint), and Emulator means plain AMQP without TLS
// (UseDevelopmentEmulator).
type ServiceBusAddress struct {
	Host     string
	Emulator bool
}

// ServiceBusEndpoint reads a Service Bus connection string exactly as azservicebus v1.11.0 reads
// it (internal/conn.ParseConnectionString): parts split on ';', keys compared case-insensitively
// but not trimmed, the flag parsed by strconv.ParseBool (so "1" and "T" count as true); a reading
// of our own would let a string pass that the SDK then dials elsewhere, or in clear. Keys with
// spaces around them (which the SDK ignores) and keys given twice are errors: either is a string
// that does not say what its author meant. Errors name keys, never values (the string holds the
// SAS key), and read after "SERVICEBUS_CONNECTION_STRING ".
func ServiceBusEndpoint(cs string) (ServiceBusAddress, error) {
	var ep ServiceBusAddress
	seen := map[string]bool{}
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		if k != strings.TrimSpace(k) {
			return ep, fmt.Errorf("has spaces around the key %q", strings.TrimSpace(k))
		}
		if seen[strings.ToLower(k)] {
			return ep, fmt.Errorf("names the key %q twice", k)
		}
		seen[strings.ToLower(k)] = true
		switch {
		case strings.EqualFold(k, "Endpoint"):
			u, err := url.Parse(v)
			if err != nil {
				return ep, errors.New("has an Endpoint that is not a URL")
			}
			ep.Host = u.Host
		case strings.EqualFold(k, "UseDevelopmentEmulator"):
			b, err := strconv.ParseBool(v)
			if err != nil {
				return ep, errors.New("has a UseDevelopmentEmulator that is neither true nor false")
			}
			ep.Emulator = b
		}
	}
	return ep, nil
}

// connectionStringFields splits "Key=Value;…" into lower-cased keys and trimmed values.
func connectionStringFields(cs string) map[string]string {
	fields := map[string]string{}
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok {
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return fields
}

// maxEntityNameLen is Service Bus's limit on a queue or topic name (its path in the namespace).
const maxEntityNameLen = 260

// validEntityName reports whether name is a Service Bus queue or topic path. Source: Microsoft's
// Service Bus REST reference "Service Bus Namespace Access" (https://msdn.microsoft.com/en-us/library/hh780781:
// the path is segmented by '/', an entity name is at most 260 characters), Azure.Messaging.ServiceBus
// CreateTopicOptions.Name and QueueProperties.Name ("Max length is 260 chars. Cannot start or end
// with a slash."), and the service's own refusal of other characters ("Entity segments can contain
// only letters, numbers, periods (.), hyphens (-), and underscores (_)").
func validEntityName(name string) bool {
	if name == "" || len(name) > maxEntityNameLen {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" { // a leading, trailing or doubled slash
			return false
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (r *reader) signingKeys(name string) [][]byte {
	v := r.get(name)
	if v == "" {
		r.bad("%s is required (comma-separated base64 keys of at least %d bytes)", name, minSigningKeyBytes)
		return nil
	}
	var keys [][]byte
	for i, part := range strings.Split(v, ",") {
		key, err := decodeBase64(strings.TrimSpace(part))
		switch {
		case err != nil:
			r.bad("%s: key %d is not base64", name, i+1)
		case len(key) < minSigningKeyBytes:
			r.bad("%s: key %d is shorter than %d bytes", name, i+1, minSigningKeyBytes)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("not base64")
}

func (r *reader) origins(name string) []string {
	v := r.get(name)
	if v == "" {
		return nil
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, err := origin.Normalize(part)
		if err != nil {
			r.bad("%s: %q %v", name, part, err)
			continue
		}
		out = append(out, o)
	}
	return out
}

func (r *reader) bool(name string, def bool) bool {
	v := r.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.bad("%s must be true or false", name)
		return def
	}
	return b
}

// int reads a whole number in [lo, hi]; def when unset.
func (r *reader) int(name string, def, lo, hi int) int {
	v := r.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.bad("%s must be a whole number from %d to %d", name, lo, hi)
		return def
	}
	return n
}

func (r *reader) logLevel(name string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(r.getDefault(name, "info"))); err != nil {
		r.bad("%s must be debug, info, warn or error", name)
	}
	return l
}
