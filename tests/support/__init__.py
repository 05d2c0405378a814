"""Helpers shared by every test tier: the sample events of events/."""
