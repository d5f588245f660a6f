"""The caddy+http:// backend: routes served for real by Caddy."""
