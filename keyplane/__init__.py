"""Keyplane: self-hosted license keys and API keys."""

__version__ = "0.1.0"
