"""Applying a plan: guards, per-route and batch writers, wait, journal, saved plans."""
