package store

import (
	"fmt"
	"math"
	"time"
)

// timeLayout is fixed-width so that stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// maxStringBytes keeps every string property under the service's 64 KiB limit, which counts UTF-16:
// a UTF-8 string never needs more than twice its length there.
const maxStringBytes = 32 << 10

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("column %s: %w", field, err)
	}
	return t.UTC(), nil
}

func checkInt32(field string, v int) error {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return fmt.Errorf("%s: out of range", field)
	}
	return nil
}

func checkString(field, v string) error {
	if len(v) > maxStringBytes {
		return fmt.Errorf("%s: longer than %d bytes", field, maxStringBytes)
	}
	return nil
}
