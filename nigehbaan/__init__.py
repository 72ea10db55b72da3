"""Nigehbaan: trafficking-risk indicators in Urdu, Roman Urdu and English ads."""

__version__ = "0.1.0"
