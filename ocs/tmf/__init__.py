"""TM Forum Open APIs (v4 JSON shapes) under ``/tmf-api/...``, over the same services, tokens
and roles as the gRPC APIs. See docs/portal.md."""
