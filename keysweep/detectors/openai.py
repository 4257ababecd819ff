"""OpenAI keys carry the fixed marker `T3BlbkFJ` (base64 of "OpenAI") between two random halves."""

MARKER = "T3BlbkFJ"


def has_marker(key: str) -> bool:
    head, sep, tail = key.partition(MARKER)
    return bool(sep) and len(tail) >= 20 and len(head) >= 20


CHECKS = {"openai_marker": has_marker}
