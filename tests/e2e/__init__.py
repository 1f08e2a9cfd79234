"""End-to-end stories: the `mlpm` command, or a whole flow over a registry served on loopback."""
