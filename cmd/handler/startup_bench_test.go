package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// BenchmarkColdStart is the time from exec to the first answer to the host's readiness probe
// (GET / polled every 25 ms, as the host does). Flex Consumption allows 30 s for app start; the
// handler listens before it builds any SDK client, so this should stay in milliseconds.
func BenchmarkColdStart(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "handler")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	root := testenv.RepoRoot(b)
	for b.Loop() {
		port := freePortB(b)
		cmd := exec.Command(bin)
		cmd.Dir = root
		cmd.Env = append(os.Environ(),
			"FUNCTIONS_CUSTOMHANDLER_PORT="+fmt.Sprint(port),
			"FACE_ENDPOINT=http://127.0.0.1:9", "FACE_API_KEY=bench",
			"PUBLIC_BASE_URL=http://localhost",
			"CALLBACK_SIGNING_KEYS="+base64.StdEncoding.EncodeToString(make([]byte, 32)),
			// Nothing listens here: readiness must not wait for dependencies.
			"TABLES_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
			"SERVICEBUS_CONNECTION_STRING="+emulatorConnectionString(9),
		)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				b.Fatal("no answer to GET / within 30 s")
			}
			time.Sleep(25 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func freePortB(b *testing.B) int {
	b.Helper()
	port, err := freePortErr()
	if err != nil {
		b.Fatal(err)
	}
	return port
}
