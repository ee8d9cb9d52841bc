"""Getting messages out: the durable outbox and the scheduler's ticks."""
