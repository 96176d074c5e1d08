"""Helpers the tests share: factories, the hostile-file generator, the app fixtures (a plugin).
Test modules import from here, never from one another."""
