package stack

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLinesKeepsEveryLineOfEveryProcess(t *testing.T) {
	var l Lines
	var seen []string
	a := l.Writer("a", func(line string) { seen = append(seen, line) })
	b := l.Writer("b", nil)
	for _, w := range []struct {
		w *LineWriter
		s string
	}{{a, "one\r\ntw"}, {b, "x\n"}, {a, "o\n\nthr"}, {a, "ee"}} {
		if n, err := w.w.Write([]byte(w.s)); n != len(w.s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w.s, n, err)
		}
	}
	a.Flush()
	b.Flush() // nothing pending: no empty line
	want := []string{"a: one", "b: x", "a: two", "a: ", "a: three"}
	if diff := cmp.Diff(want, l.All()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"one", "two", "", "three"}, seen); diff != "" {
		t.Errorf("onLine saw (-want +got):\n%s", diff)
	}
}
