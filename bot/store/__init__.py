"""Storage: the SQLite schema and its migrations, and the outbox of replies waiting to be delivered."""
