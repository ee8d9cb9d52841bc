"""Work done in the background, and what operators see of it: the durable outbox, the ticker
and the Prometheus metrics."""
