"""Engagement: reminder rounds, nudges and Stop."""
