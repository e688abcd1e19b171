"""The protocol-neutral charging core: sessions, rating groups, request types, decisions."""
