// Command fakefunc plays Core Tools' `func start --port N` for devstack's tests, where Core Tools
// cannot be installed: in the working directory (a staged app) it reads host.json and
// local.settings.json as the host does, records how it was called in $FAKEFUNC_RECORD, and runs
// the custom handler with the Values as its environment, listening on N itself (the real host
// would listen on N and forward to the handler).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakefunc:", err)
		os.Exit(1)
	}
}

func run() error {
	args := os.Args[1:]
	if len(args) != 3 || args[0] != "start" || args[1] != "--port" {
		return fmt.Errorf("want `start --port N`, got %q", args)
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if rec := os.Getenv("FAKEFUNC_RECORD"); rec != "" {
		if err := os.WriteFile(rec, []byte(wd+"\n"+strings.Join(args, " ")+"\n"), 0o600); err != nil {
			return err
		}
	}
	var host struct {
		CustomHandler struct {
			Description struct{ DefaultExecutablePath string }
		}
	}
	if err := readJSON("host.json", &host); err != nil {
		return err
	}
	var settings struct{ Values map[string]string }
	if err := readJSON("local.settings.json", &settings); err != nil {
		return err
	}
	env := os.Environ()
	for k, v := range settings.Values {
		env = append(env, k+"="+v)
	}
	env = append(env, "FUNCTIONS_CUSTOMHANDLER_PORT="+args[2])
	exe := filepath.Join(wd, host.CustomHandler.Description.DefaultExecutablePath)
	return syscall.Exec(exe, []string{exe}, env)
}

func readJSON(name string, v any) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
