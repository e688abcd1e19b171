"""gRPC services: credit control, subscriber balance, admin/provisioning, auth."""
