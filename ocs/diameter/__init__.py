"""Diameter (RFC 6733): sans-I/O codec, dictionary, peer state machine, asyncio transport."""
