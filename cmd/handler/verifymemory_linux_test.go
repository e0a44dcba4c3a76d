package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// Issue 11, item 6: at 4 concurrent StartSessions each with a 6 MB verify image, the handler's
// peak RSS stays at or below 80 MiB (it reached about 150 MB when the image's base64 went through
// encoding/json as a string). The built handler runs as its own process, against Azurite and the
// Face stand-in, on loopback; its peak is /proc/<pid>/status VmHWM. The test also logs the
// handler's CPU for a verify StartSession beside a plain one (/proc/<pid>/stat), for the report.
func TestVerifyImagePeakMemory(t *testing.T) {
	const (
		concurrent = 4
		imageBytes = 6 << 20 // the API's largest (handlers' maxImageBytes)
		maxPeak    = 80 << 20
	)
	bin := filepath.Join(t.TempDir(), "handler")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	faceSrv := httptest.NewServer(facestub.New(&facestub.Options{APIKey: "memory-test-key"}))
	t.Cleanup(faceSrv.Close)
	port := freePort(t)
	settings := appSettings(t, faceSrv.URL, freePort(t))
	settings["FACE_API_KEY"] = "memory-test-key"
	settings["FUNCTIONS_CUSTOMHANDLER_PORT"] = strconv.Itoa(port)
	cmd := exec.Command(bin)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = os.Environ()
	for k, v := range settings {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &logsink.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "health", answersOK(base+"/api/health"))

	plain := []byte(`{"externalReference":"memory"}`)
	verify := fmt.Appendf(nil, `{"kind":"livenessWithVerify","verifyImage":"%s"}`, base64Image(t, imageBytes))
	start := func(body []byte) error {
		resp, err := http.Post(base+"/api/sessions", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("StartSession = %d", resp.StatusCode)
		}
		return nil
	}
	cpuPer := func(body []byte, n int) time.Duration {
		t.Helper()
		before := processCPU(t, cmd.Process.Pid)
		for range n {
			if err := start(body); err != nil {
				t.Fatalf("%v; the handler's log:\n%s", err, logs)
			}
		}
		return (processCPU(t, cmd.Process.Pid) - before) / time.Duration(n)
	}
	cpuPer(plain, 2) // warm: clients built, tables exist
	idle := peakRSS(t, cmd.Process.Pid)

	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for range concurrent {
		wg.Go(func() { errs <- start(verify) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%v; the handler's log:\n%s", err, logs)
		}
	}
	peak := peakRSS(t, cmd.Process.Pid)
	plainCPU, verifyCPU := cpuPer(plain, 10), cpuPer(verify, 10)
	t.Logf("handler peak RSS: %.1f MiB before, %.1f MiB after %d concurrent %d-byte verify images; CPU per StartSession: plain %v, verify %v (%v more)",
		float64(idle)/(1<<20), float64(peak)/(1<<20), concurrent, imageBytes, plainCPU, verifyCPU, verifyCPU-plainCPU)
	if peak > maxPeak {
		t.Errorf("peak RSS %.1f MiB at %d concurrent 6 MB verify images, want at most %d MiB", float64(peak)/(1<<20), concurrent, maxPeak>>20)
	}
}

// base64Image is a JPEG of noise followed by a trailer, as phones append, to size bytes.
func base64Image(t *testing.T, size int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7919 % 251)
	}
	img.Set(0, 0, color.Gray{Y: 1})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	raw := append(b.Bytes(), make([]byte, size-b.Len())...)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out
}

// peakRSS is the process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// processCPU is the process's user and system CPU so far (/proc/<pid>/stat utime + stime, in
// clock ticks of 10 ms: Linux's USER_HZ is 100 on every architecture Go supports).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
