"""Test support: real servers (redis-server, Redis Cluster, ocs itself) for the fixtures."""
