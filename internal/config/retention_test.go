package config

import (
	"strings"
	"testing"
	"time"
)

// RETENTION_DAYS is a whole number of days from 1 to 3650; anything else is reported by name
// (TestLoadReportsEveryProblemWithoutValues holds the message to no value), and the default is 30 days.
func TestLoadRetentionDays(t *testing.T) {
	cases := []struct {
		value string
		want  time.Duration // zero: refused
	}{
		{"", 30 * 24 * time.Hour},
		{"1", 24 * time.Hour},
		{"3650", 3650 * 24 * time.Hour},
		{"0", 0},
		{"-1", 0},
		{"3651", 0},
		{"1.5", 0},
		{"30d", 0},
		{"９", 0},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			c, err := Load(env(map[string]string{"RETENTION_DAYS": tc.value}))
			if tc.want == 0 {
				if err == nil || !strings.Contains(err.Error(), "RETENTION_DAYS must be a whole number from 1 to 3650") {
					t.Fatalf("Load(RETENTION_DAYS=%q) error = %v, want it refused by name", tc.value, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(RETENTION_DAYS=%q): %v", tc.value, err)
			}
			if c.Retention != tc.want {
				t.Errorf("Retention = %v, want %v", c.Retention, tc.want)
			}
		})
	}
}
