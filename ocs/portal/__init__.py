"""The web subsystem (``[portal]``): the TM Forum REST APIs, the self-care and care-agent
portal, payment webhooks, and the BSS background work (event feed, bills, dunning, outbox)."""
