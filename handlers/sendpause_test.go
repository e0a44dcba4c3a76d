package handlers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/events"
)

func TestSendPause(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	failed := fmt.Errorf("send: %w", events.ErrSendFailed)
	invalid := fmt.Errorf("send: %w", events.ErrInvalidEvent)
	type send struct {
		started, ended time.Duration // after t0
		err            error
	}
	tests := []struct {
		name   string
		sends  []send
		at     time.Duration // when paused is asked, after t0
		paused bool
	}{
		{"nothing sent", nil, 0, false},
		{"a failure pauses", []send{{0, 5 * time.Second, failed}}, 10 * time.Second, true},
		{"for 30 s from its end", []send{{0, 5 * time.Second, failed}}, 35 * time.Second, false},
		{"a success ends it", []send{{0, 5 * time.Second, failed}, {6 * time.Second, 7 * time.Second, nil}}, 8 * time.Second, false},
		{"an invalid event does not pause", []send{{0, time.Second, invalid}}, 2 * time.Second, false},
		// A batch that started before an inline send and failed after that send succeeded says
		// nothing about the topic now.
		{"a slow failure after a later success", []send{{time.Second, 2 * time.Second, nil}, {0, 10 * time.Second, failed}}, 11 * time.Second, false},
		{"a failure after an earlier success", []send{{0, time.Second, nil}, {2 * time.Second, 3 * time.Second, failed}}, 4 * time.Second, true},
		// The clock stepped back an hour after the failure: the pause must not last the hour.
		{"the clock steps back", []send{{0, time.Second, failed}}, -time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p sendPause
			for _, s := range tt.sends {
				p.record(t0.Add(s.started), t0.Add(s.ended), s.err)
			}
			err := p.paused(t0.Add(tt.at))
			if got := errors.Is(err, errSendPaused); got != tt.paused {
				t.Errorf("paused at %v = %v, want paused %v", tt.at, err, tt.paused)
			}
		})
	}
}
