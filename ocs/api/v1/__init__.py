"""Generated from protos/ocs/api/v1 (make protos)."""
