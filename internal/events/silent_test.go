package events

import (
	"errors"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestPublishReturnsWhenItsContextEnds: a namespace that accepts TCP and never answers keeps the
// SDK opening its link, under a lock that waits for no context, for as long as the caller that
// started it allows (here a 30 s warm-up Connect). A Publish behind it still returns when its own
// context ends, with every event not confirmed.
func TestPublishReturnsWhenItsContextEnds(t *testing.T) {
	p := newPublisher(t, testenv.SilentPort(t), nil)
	go func() { _ = p.Connect(bounded(t, 30*time.Second)) }()
	time.Sleep(200 * time.Millisecond) // the warm-up holds the link's lock

	const budget = time.Second
	start := time.Now()
	err := p.Publish(bounded(t, budget), [][]byte{fixture(t, "canceled"), fixture(t, "expired")})
	if took := time.Since(start); took > budget+time.Second {
		t.Errorf("Publish with a 1 s context took %v behind a stalled link; want about 1 s", took)
	}
	perr, ok := errors.AsType[*PublishError](err)
	if !ok || !errors.Is(err, ErrSendFailed) || len(perr.Events) != 2 {
		t.Fatalf("Publish = %v, want both events not confirmed (ErrSendFailed)", err)
	}
}
