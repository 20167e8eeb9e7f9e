"""Running a fleet from a desk: what a device reports about itself, and what store IT can ask of it."""
