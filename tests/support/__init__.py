"""Helpers shared by every test tier: the template as data, moto tables built from it, events."""
