package events

import (
	"context"
	"fmt"
)

// Connect opens the AMQP connection and the sender's link now (authenticating on the way), so the
// first Publish does not pay for it and a namespace that is unreachable or refuses the identity
// shows at start rather than at the first final state. It is optional: Publish connects by itself.
// Errors wrap ErrSendFailed; ctx bounds the attempt, the client's retry options its retries.
func (p *Publisher) Connect(ctx context.Context) error {
	// Sizing a batch needs the link's maximum message size: the SDK opens the link for it.
	if _, err := p.sender.NewMessageBatch(ctx, nil); err != nil {
		return fmt.Errorf("%w (entity %s): %w", ErrSendFailed, p.entity, err)
	}
	return nil
}
