"""Checks of the repository as a whole: import contracts, types, generated docs, the wheel."""
