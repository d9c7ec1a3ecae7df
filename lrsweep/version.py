"""The package version: one place, read by the package, provenance and worker checks."""

__version__ = "0.1.0"
