"""Generate a realistic descriptor repo for benchmarks: unique hosts, so no warnings.

python bench/gen.py OUT_DIR 10000        # then: time load_paths vs plain libyaml
"""

from __future__ import annotations

import base64
import hashlib
import random
import sys
from pathlib import Path
from typing import Any

import yaml

SERVICES = ("shopping-cart", "product-info", "orders", "inventory", "payments", "search")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10,000 files in seconds
WORDS = ("carts", "product", "orders", "items", "users", "search", "checkout", "status", "v1")


def generate_repo(path: Path, n_routes: int, n_paths: int = 8, seed: int = 0) -> None:
    """Write ``.routes.yaml`` and ``routes/route-NNNNN.yaml`` bare descriptors under ``path``."""
    rng = random.Random(seed)
    routes_dir = path / "routes"
    routes_dir.mkdir(parents=True, exist_ok=True)
    (path / ".routes.yaml").write_text("descriptors: [routes]\nowner: bench/routes\n")
    for index in range(n_routes):
        name = f"route-{index:05d}"
        text = yaml.dump(_descriptor(rng, index, n_paths), Dumper=_DUMPER, sort_keys=False)
        (routes_dir / f"{name}.yaml").write_text(text, encoding="utf-8")


def change_routes(path: Path, count: int) -> list[str]:
    """Point the first path of ``count`` evenly spread routes at another service; their names."""
    files = sorted((path / "routes").glob("route-*.yaml"))
    step = max(1, len(files) // max(count, 1))
    changed = []
    for file in files[::step][:count]:
        descriptor = yaml.load(file.read_bytes(), Loader=yaml.CSafeLoader)
        descriptor["routes"][0]["route"]["service"] = "changed-" + file.stem
        file.write_text(yaml.dump(descriptor, Dumper=_DUMPER, sort_keys=False), encoding="utf-8")
        changed.append(file.stem)
    return changed


def _descriptor(rng: random.Random, index: int, n_paths: int) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"host": f"svc-{index}.bench.acme.org"}
    if rng.random() < 0.3:
        descriptor["tls"] = {"clientValidationCa": {"name": f"ca-{index % 7}"}}
        descriptor["validation"] = {
            "clientCertificate": {
                "subjectMatches": [
                    {"exact": f"client-{index}.acme.org"},
                    {"hasSuffix": ".acme.org"},
                ]
            }
        }
    elif rng.random() < 0.1:
        digest = hashlib.sha256(f"password-{index}".encode()).digest()
        descriptor["validation"] = {
            "httpBasic": {
                "realm": "Bench",
                "passwordHashes": {"admin": "sha256:" + base64.b64encode(digest).decode()},
            }
        }
    if rng.random() < 0.5:
        descriptor["corsPolicy"] = {
            "allowOrigins": [f"https://www{index}.acme.org", "https://app.acme.org"],
            "allowMethods": ["GET", "POST"],
        }
    prefixes = {f"/{rng.choice(WORDS)}-{n}" for n in range(n_paths)}
    descriptor["routes"] = [
        {
            "prefix": prefix,
            "route": {"service": rng.choice(SERVICES)},
            **({"name": prefix.strip("/")} if rng.random() < 0.3 else {}),
            **({"enableWebsockets": True} if rng.random() < 0.05 else {}),
        }
        for prefix in sorted(prefixes)
    ]
    return descriptor


if __name__ == "__main__":
    generate_repo(Path(sys.argv[1]), int(sys.argv[2]))
