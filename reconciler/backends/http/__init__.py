"""The http(s):// backend: the route control-plane REST API."""
