"""Notifications: e-mail through SMTP from operator-editable templates, and TMF hub webhooks,
both delivered from an outbox at least once with retries."""
