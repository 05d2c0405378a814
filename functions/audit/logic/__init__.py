"""Audit's public logic functions."""
