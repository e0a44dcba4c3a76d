package main

import (
	"context"
	"strings"
	"testing"
)

// Bad flags fail before anything starts.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-concurrency", "1,0"}, `"0" is not a positive number`},
		{[]string{"-concurrency", "eight"}, `"eight" is not a positive number`},
		{[]string{"-load-for", "soon"}, "invalid value"},
		{[]string{"-cold-runs", "0"}, "-cold-runs: 0 is not a positive number"},
		{[]string{"-load-for", "0s"}, "must be positive durations"},
		{[]string{"-floor-for", "-1s"}, "must be positive durations"},
		{[]string{"-micro", "-1s"}, "must not be negative"},
	} {
		err := run(context.Background(), tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
