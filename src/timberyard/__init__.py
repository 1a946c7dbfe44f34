"""Timberyard: a self-hosted log platform."""

__version__ = "0.1.0"
