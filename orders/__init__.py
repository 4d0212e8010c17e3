"""Orders, fills and their history; submission, cancel and reconciliation with Parsec."""
