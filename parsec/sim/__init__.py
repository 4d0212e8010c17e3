"""The embedded Parsec: the same contract under /sim/api/v1/, from its own tables."""
