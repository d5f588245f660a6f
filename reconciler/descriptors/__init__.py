"""Descriptor files -> the desired RouteSet and its diagnostics."""
