"""The rules generator: fully synthetic tables from a declarative spec, with no real data at all."""
