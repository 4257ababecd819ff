"""Anthropic keys (`sk-ant-api03-`, `sk-ant-admin01-`) end in the constant `AA`."""


def has_suffix(key: str) -> bool:
    return key.endswith("AA") and not key.endswith("AAAA")


CHECKS = {"anthropic_suffix": has_suffix}
