"""The package version, in a module nothing else has to import the package face for."""

__version__ = "0.1.0"
