"""Helpers for tests and the demo: fake credential generators and git repository builders."""
