"""Product catalog and rating: offers, tariffs, time bands, roaming zones, tiers, grant policy."""
