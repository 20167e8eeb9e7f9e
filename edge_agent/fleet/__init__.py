"""Running a fleet from a desk: what a device says about itself and what the platform may ask of it."""
