"""Generators: the contract (base), the registry, shared column machinery and each generator family."""
