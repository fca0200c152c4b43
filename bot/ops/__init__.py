"""Running it for a province: backups, personal data, health checks."""
