"""routes: a declarative GitOps reconciler for ingress route descriptors."""

__all__ = [
    "__version__",
]

__version__ = "0.1.0"
