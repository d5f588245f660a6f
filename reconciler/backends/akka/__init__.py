"""The akka: / kalix: backend: the platform CLI."""
