"""Partner webhooks: endpoints, signed deliveries of the event log, retries and the outbox sweep."""
