"""ocs bench: a load generator that runs real Diameter sessions and checks the money after."""
