package stack

import (
	"bytes"
	"strings"
	"sync"
)

// Lines collects every line that the stack's processes write, labelled with the process's name,
// so that a test can scan all of them afterwards (for secrets) or print them when it fails.
type Lines struct {
	mu    sync.Mutex
	lines []string
}

// Writer is an io.Writer for one process: it splits what the process writes into lines and
// keeps each as "<name>: <line>". onLine, when set, sees each line (without the label) as it
// completes, e.g. to catch a LISTENING line. Call Flush when the process has exited to keep a
// last line that has no newline.
func (l *Lines) Writer(name string, onLine func(string)) *LineWriter {
	return &LineWriter{name: name, into: l, onLine: onLine}
}

// All is a copy of every line kept so far.
func (l *Lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *Lines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// LineWriter is one process's writer into Lines.
type LineWriter struct {
	name    string
	into    *Lines
	onLine  func(string)
	mu      sync.Mutex
	partial []byte
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Flush keeps a last line that ended without a newline.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(string(w.partial))
		w.partial = nil
	}
}

func (w *LineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	w.into.add(w.name + ": " + line)
	if w.onLine != nil {
		w.onLine(line)
	}
}
