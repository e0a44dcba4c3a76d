package main

import (
	"context"
	"io"
	"log/slog"
)

// newLogger writes JSON lines, one object a line: ERROR records to stderr, everything else to
// stdout. The Functions host records every stderr line as an Error and every stdout line as
// Information (reference functions-custom-handler.md §2), so this is how a level reaches
// Application Insights.
func newLogger(level slog.Leveler, stdout, stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	return slog.New(splitHandler{out: slog.NewJSONHandler(stdout, opts), err: slog.NewJSONHandler(stderr, opts)})
}

// splitHandler sends ERROR records to err and the rest to out; both share the same level.
type splitHandler struct{ out, err slog.Handler }

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.out.Enabled(ctx, l) }

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		return h.err.Handle(ctx, r)
	}
	return h.out.Handle(ctx, r)
}

func (h splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return splitHandler{out: h.out.WithAttrs(attrs), err: h.err.WithAttrs(attrs)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{out: h.out.WithGroup(name), err: h.err.WithGroup(name)}
}
