"""The event log: one row per fact partners may learn about, written in the transaction of the fact."""
