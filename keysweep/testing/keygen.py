"""Format-faithful fake credentials for tests. Random values from a seeded generator: never a real key."""

from __future__ import annotations

import random
import string

from keysweep.detectors.base62 import BASE36, encode
from keysweep.detectors.github import token_checksum

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class KeyGen:
    def __init__(self, seed: int = 1234) -> None:
        self.random = random.Random(seed)

    def chars(self, n: int, alphabet: str = ALNUM) -> str:
        # Redraw the rare value that contains a run which the placeholder filter would reject.
        while True:
            value = "".join(self.random.choice(alphabet) for _ in range(n))
            if not any(value[i] == value[i + 1] == value[i + 2] for i in range(len(value) - 2)):
                return value

    def openai_project(self) -> str:
        return f"sk-proj-{self.chars(74, URLSAFE)}T3BlbkFJ{self.chars(74, URLSAFE)}"

    def openai_service_account(self) -> str:
        return f"sk-svcacct-{self.chars(74, URLSAFE)}T3BlbkFJ{self.chars(74, URLSAFE)}"

    def openai_admin(self) -> str:
        return f"sk-admin-{self.chars(58, URLSAFE)}T3BlbkFJ{self.chars(58, URLSAFE)}"

    def openai_legacy(self) -> str:
        return f"sk-{self.chars(20)}T3BlbkFJ{self.chars(20)}"

    def anthropic(self) -> str:
        return f"sk-ant-api03-{self.chars(93, URLSAFE)}AA"

    def anthropic_admin(self) -> str:
        return f"sk-ant-admin01-{self.chars(93, URLSAFE)}AA"

    def huggingface(self) -> str:
        return f"hf_{self.chars(34, string.ascii_letters)}"

    def google_api_key(self) -> str:
        return f"AIzaSy{self.chars(33, URLSAFE)}"

    def aws_access_key_id(self) -> str:
        return f"AKIA{self.chars(16, BASE32)}"

    def aws_secret_access_key(self) -> str:
        return self.chars(40, ALNUM + "/+")

    def github(self, prefix: str = "ghp_", body_len: int = 30) -> str:
        body = self.chars(body_len)
        return f"{prefix}{body}{token_checksum(body)}"

    def github_bad_checksum(self, prefix: str = "ghp_") -> str:
        token = self.github(prefix)
        wrong = token[:-6] + ("a" if token[-6] != "a" else "b") + token[-5:]
        return wrong

    def gitlab_routable(self) -> str:
        import zlib

        payload = self.chars(27, URLSAFE)
        signed = f"glpat-{payload}.01.{encode(len(payload), BASE36, 2)}"
        return signed + encode(zlib.crc32(signed.encode()), BASE36, 7)
