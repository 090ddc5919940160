"""plantwatch: what thermal power plants are doing, from Sentinel-2 imagery."""

__version__ = "0.1.0"
