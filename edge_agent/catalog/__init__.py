"""The store catalog on the device: cached updates from the platform, and lookups that say how fresh they are."""
