"""Hypothesis strategies for route descriptors, shared by the property tests."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

names = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
services = st.sampled_from(["cart", "product", "inventory", "search", "auth"])
prefixes = st.sampled_from(["/", "/carts", "/carts/", "/product", "/api", "/api/v1", "/ws"])
hosts = st.sampled_from(["shop.acme.org", "api.acme.org", "Shop.Acme.ORG.", "bücher.example"])
origins = st.sampled_from(
    ["https://www.acme.org", "https://app.acme.org", "HTTPS://Admin.Acme.org"]
)
methods = st.sampled_from(["get", "GET", "post", "PUT", "DELETE"])
hashes = st.binary(min_size=32, max_size=32).map(
    lambda raw: "sha256:" + base64.b64encode(raw).decode("ascii")
)


@st.composite
def descriptors(draw: st.DrawFn) -> dict[str, Any]:
    """A schema-valid route descriptor with a random mix of the optional features."""
    rules = []
    for prefix in draw(st.lists(prefixes, min_size=1, max_size=4, unique=True)):
        rule: dict[str, Any] = {"prefix": prefix, "route": {"service": draw(services)}}
        if draw(st.booleans()):
            rule["enableWebsockets"] = draw(st.booleans())
        if draw(st.booleans()):
            rule["name"] = draw(st.sampled_from(["main", "legacy"]))
        rules.append(rule)
    doc: dict[str, Any] = {"host": draw(hosts), "routes": rules}
    if draw(st.booleans()):
        doc["corsPolicy"] = {
            "allowOrigins": draw(st.lists(origins, min_size=1, max_size=3)),
            "allowMethods": draw(st.lists(methods, max_size=3)),
        }
    if draw(st.booleans()):
        doc["tls"] = {"clientValidationCa": {"name": "root-ca"}}
        doc["validation"] = {"clientCertificate": {"subjectMatches": [{"hasSuffix": ".acme.org"}]}}
    if draw(st.booleans()):
        doc.setdefault("validation", {})["httpBasic"] = {
            "realm": "Shop",
            "passwordHashes": {"admin": draw(hashes)},
        }
    return doc


route_sets = st.dictionaries(names, descriptors(), max_size=6)
