"""Fixtures: the app with its portal (one per module), REST client, mail server."""

from tests.support.portal import mail, ocs_portal, rest

__all__ = ["mail", "ocs_portal", "rest"]
