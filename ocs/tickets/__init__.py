"""Trouble tickets as a workflow (TMF621 states, SLA per category, assignment, notes,
attachments) and the credit notes a billing dispute can end in (four eyes above an amount)."""
