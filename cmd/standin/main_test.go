package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestRunServesUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-api-key", "k"}, pw, slog.New(slog.DiscardHandler))
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read LISTENING line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first line = %q, want LISTENING 127.0.0.1:<port>", line)
	}
	go io.Copy(io.Discard, pr)

	resp, err := http.Post("http://"+addr+"/face/v1.2/detectLiveness-sessions", "application/json",
		strings.NewReader(`{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("create without the -api-key: status %d, want 401", resp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-nope"}, io.Discard, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("run with an unknown flag = nil, want an error")
	}
}
