package infra

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/liveness-quicklink/functions/internal/config"
)

// notInAzure are settings the handler reads that the deployment deliberately leaves unset.
func notInAzure() map[string]string {
	return map[string]string{
		"FACE_API_KEY":                 "Face local auth is disabled; the app uses its identity",
		"TABLES_CONNECTION_STRING":     "tables use TABLES_ENDPOINT with the identity",
		"SERVICEBUS_CONNECTION_STRING": "Service Bus uses SERVICEBUS_NAMESPACE with the identity",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "set by the Functions host",
	}
}

// appSettingsComplete: the handler's own config.Load accepts the app settings the Bicep sets,
// every setting it reads is set (or deliberately absent), and every %SETTING% a function.json
// refers to exists.
func appSettingsComplete(d *deployment) []string {
	env, placeholders, err := d.settingsEnv()
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	read := map[string]bool{}
	_, err = config.Load(func(name string) string {
		read[name] = true
		return env[name]
	})
	if err != nil {
		problems = append(problems, fmt.Sprintf("config.Load rejects the app settings the Bicep sets (placeholders for values known only in Azure: %s): %v",
			strings.Join(placeholders, ", "), err))
	}
	skip := notInAzure()
	for _, name := range slices.Sorted(maps.Keys(read)) {
		if _, set := env[name]; !set && skip[name] == "" {
			problems = append(problems, fmt.Sprintf("the handler reads %s but the app settings do not set it", name))
		}
	}
	for name := range skip {
		if _, set := env[name]; set {
			problems = append(problems, fmt.Sprintf("app setting %s must not be set in Azure: %s", name, skip[name]))
		}
	}
	refs, err := functionSettingRefs(filepath.Join(d.repo, "functions"))
	if err != nil {
		return append(problems, err.Error())
	}
	for _, ref := range refs {
		if _, ok := env[ref.name]; !ok {
			problems = append(problems, fmt.Sprintf("%s refers to %%%s%% but the app settings do not set it (the host fails to index the function)", ref.file, ref.name))
		}
	}
	return problems
}

// settingsEnv renders the app settings as the environment the handler would see. Values the
// templates fix (literals, parameter defaults and main.parameters.json, through module arguments)
// are used as they are; values only Azure knows (endpoints, host names, ids) become placeholders,
// and Key Vault references the secret shape the handler expects.
func (d *deployment) settingsEnv() (env map[string]string, placeholders []string, err error) {
	file, settings, err := d.appSettings()
	if err != nil {
		return nil, nil, err
	}
	env = map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		value := settings[name]
		if isKeyVaultReference(value) {
			env[name] = secretPlaceholder(name)
			placeholders = append(placeholders, name)
			continue
		}
		if v, ok := d.eval(file, value); ok {
			env[name] = fmt.Sprint(v)
			continue
		}
		if v, ok := d.render(file, value); ok {
			env[name] = fmt.Sprint(v)
		} else {
			env[name] = placeholder(name)
		}
		placeholders = append(placeholders, name)
	}
	return env, placeholders, nil
}

func placeholder(name string) string {
	switch {
	case strings.HasSuffix(name, "_ENDPOINT"), strings.HasSuffix(name, "_URL"):
		return "https://placeholder.example"
	case name == "SERVICEBUS_NAMESPACE":
		return "placeholder.servicebus.windows.net"
	default:
		return "placeholder"
	}
}

// secretPlaceholder is what a Key Vault secret of that setting looks like once resolved.
func secretPlaceholder(name string) string {
	if name == "CALLBACK_SIGNING_KEYS" {
		return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	}
	return "placeholder"
}

type settingRef struct{ file, name string }

// functionSettingRefs finds %NAME% in every functions/*/function.json: the host resolves them
// from app settings.
func functionSettingRefs(dir string) ([]settingRef, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no functions/*/function.json found")
	}
	ref := regexp.MustCompile(`%([A-Za-z0-9_]+)%`)
	var out []settingRef
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), f)
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			out = append(out, settingRef{filepath.ToSlash(rel), m[1]})
		}
	}
	return out, nil
}

// requiredSettings are the app settings whose absence alone makes config.Load fail.
func (d *deployment) requiredSettings() ([]string, error) {
	env, _, err := d.settingsEnv()
	if err != nil {
		return nil, err
	}
	if _, err := config.Load(func(n string) string { return env[n] }); err != nil {
		return nil, fmt.Errorf("config.Load rejects the full settings: %w", err)
	}
	var required []string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		_, err := config.Load(func(n string) string {
			if n == name {
				return ""
			}
			return env[n]
		})
		if err != nil {
			required = append(required, name)
		}
	}
	return required, nil
}
