"""Stand-in for torchvision's package layout (fixture for mlpm's hubconf reader)."""

__version__ = "0.0.0+fixture"
