"""Every test directory shares the real-server fixtures of the runtime."""

pytest_plugins = ["salesops.testing.fixtures"]
