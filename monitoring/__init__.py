"""Operations: /metrics, the figures it reads from the database, the admin dashboard and traces."""
