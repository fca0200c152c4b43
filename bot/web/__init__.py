"""The aiohttp server: webhooks, health check, the browser chat and the staff console."""
