"""Partners, their API keys, customers and the wallets they proved to own."""
