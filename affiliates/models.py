"""No tables of its own: commissions and payouts live in fees (see fees.commission_models)."""
