"""Order writes, one module per stage of the lifecycle (README, "Order lifecycle").

Callers import the stage they use (`from orders.services import submission`): no re-exports here, so
a name is found where it is defined and the stages can import each other without a circle.

- intake: validate a partner's order (prepare, outside a transaction) and store it (commit)
- fee_authorization: the customer's PullFee signature, which queues the order
- submission: claim a queued order, send it to Parsec once, record the answer
- parsec_state: adopt what Parsec says about an order (accepted, status and filled amount)
- cancel: a partner's cancel, and sending it to Parsec
- reconcile: per (customer, exchange), one listing of orders and one of fills, applied in bulk
- in_doubt: orders whose create is in doubt: matching, misses, late arrivals, resend
- fills: the one place new fills are inserted (and their fee distributed)
- reconcile_schedule: which (customer, exchange) pairs to reconcile, and when
- settlement: ends without Parsec (failed) and closing a final order's fee
- deadlines: time limits and the submit backoff (pure policy)
- sweep: the outbox sweep and the idempotency-key purge
- staff: admins' actions in an order's history
- queueing: the task messages order services send (by name, after commit)
"""
