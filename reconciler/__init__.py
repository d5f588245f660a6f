"""routes: a declarative GitOps reconciler for ingress route descriptors."""

__version__ = "0.1.0"
