"""Model interfaces: what a package takes and gives, read without importing a framework."""
