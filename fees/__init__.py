"""Escrow config, fee quotes, EIP-712 fee authorizations, the fee ledger and statements."""
