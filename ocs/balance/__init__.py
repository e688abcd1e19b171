"""Balances in Redis: data model, one Lua script per operation, idempotency, events, expiry."""
