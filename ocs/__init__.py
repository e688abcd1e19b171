"""ocs: a real-time Online Charging System (Diameter Gy/Ro and gRPC credit control)."""

__version__ = "0.1.0"
