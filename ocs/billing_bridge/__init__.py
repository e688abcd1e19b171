"""Billing bridge: charge-event streams to the ledger, invoices, settlement and reconciliation."""
