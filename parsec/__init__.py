"""The Parsec boundary: contract rules, the HTTP client and the embedded simulator."""
