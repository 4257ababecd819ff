"""Format-faithful fake credentials for tests. Random values from a seeded generator: never a real key."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from dataclasses import dataclass

from keysweep.providers.azure import cask_checksum
from keysweep.providers.base62 import BASE36, encode
from keysweep.providers.github import token_checksum
from keysweep.providers.private_key import canonical_pem

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
HEX = "0123456789abcdef"
DIGITS = string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
WORD = ALNUM + "_"


@dataclass(frozen=True)
class ServiceAccountKey:
    """A generated GCP service-account key file and what a finding should report about it."""

    json_text: str          # the file as Google writes it (indent 2, PEM with \n escapes)
    private_key: str        # canonical PEM: the finding's secret
    private_key_id: str
    client_email: str
    project_id: str


def _der(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes([tag, length]) + body
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + body


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

    def gitlab_routable(self, prefix: str = "glpat-", versioned: bool = True) -> str:
        """GitLab routable token: prefix, base64url payload, [`.01`], `.`, base36 payload length
        (2), CRC32 of everything before it in base36 (7)."""
        payload = self.chars(self.random.randint(27, 60), URLSAFE)
        version = ".01" if versioned else ""
        signed = f"{prefix}{payload}{version}.{encode(len(payload), BASE36, 2)}"
        return signed + encode(zlib.crc32(signed.encode()), BASE36, 7)

    def gitlab_routable_bad_checksum(self) -> str:
        token = self.gitlab_routable()
        return token[:-1] + ("0" if token[-1] != "0" else "1")

    def gitlab_pat(self) -> str:
        return f"glpat-{self.chars(20, URLSAFE)}"

    def gitlab_deploy_token(self) -> str:
        return f"gldt-{self.chars(20, URLSAFE)}"

    def gitlab_runner_token(self) -> str:
        return f"glrt-{self.chars(20, URLSAFE)}"

    def gitlab_runner_routable(self) -> str:
        return self.gitlab_routable(prefix=f"glrt-t{self.random.randint(1, 3)}_")

    def gitlab_trigger_token(self) -> str:
        return f"glptt-{self.chars(40, HEX)}"

    def gitlab_runner_registration(self) -> str:
        return f"GR1348941{self.chars(20, URLSAFE)}"

    # -- GitHub fine-grained ---------------------------------------------------------------
    def github_fine_grained(self) -> str:
        return f"github_pat_{self.random.choice('123456789')}{self.chars(21)}_{self.chars(59)}"

    # -- AI providers ----------------------------------------------------------------------
    def google_aq(self) -> str:
        return f"AQ.Ab8R{self.chars(46, URLSAFE)}"

    def azure_openai_hex(self) -> str:
        return self.chars(32, HEX)

    def azure_openai_cask(self) -> str:
        """84-character Azure AI services key: random, `JQQJ99`, date, reserved, `ACOG`, and the
        Marvin32 checksum (providers/azure.py); redrawn until the checksum is base62, as Azure's
        own generator does."""
        while True:
            date = self.random.choice("ABC") + self.random.choice("ABCDEFGHIJKL")
            body = f"{self.chars(52)}JQQJ99{date}{self.chars(16)}ACOG"
            checksum = cask_checksum(body)
            if checksum.isalnum():
                return body + checksum

    def azure_openai_cask_bad_checksum(self) -> str:
        key = self.azure_openai_cask()
        return key[:-1] + ("A" if key[-1] != "A" else "B")

    def aws_bedrock(self) -> str:
        user = f"BedrockAPIKey-{self.chars(4, string.ascii_lowercase + DIGITS)}-at-{self.chars(12, DIGITS)}"
        payload = f"{user}:{self.chars(60, ALNUM + '+/')}"
        return "ABSK" + base64.b64encode(payload.encode()).decode()

    def aws_bedrock_short_term(self) -> str:
        url = (f"bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256"
               f"&X-Amz-Credential=ASIA{self.chars(16, BASE32)}%2F20260101%2Fus-east-1%2Fbedrock%2Faws4_request"
               f"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=43200&X-Amz-Security-Token={self.chars(120)}"
               f"&X-Amz-Signature={self.chars(64, HEX)}&Version=1")
        return "bedrock-api-key-" + base64.b64encode(url.encode()).decode()

    def groq(self) -> str:
        return f"gsk_{self.chars(20)}WGdyb3FY{self.chars(24)}"

    def replicate(self) -> str:
        return f"r8_{self.chars(37)}"

    def xai(self) -> str:
        return f"xai-{self.chars(80)}"

    def openrouter(self) -> str:
        return f"sk-or-v1-{self.chars(64, HEX)}"

    def langsmith(self, kind: str = "pt") -> str:
        return f"lsv2_{kind}_{self.chars(32, HEX)}_{self.chars(10, HEX)}"

    def perplexity(self) -> str:
        return f"pplx-{self.chars(48)}"

    def together(self) -> str:
        return f"tgp_v1_{self.chars(43, URLSAFE)}"

    def together_legacy(self) -> str:
        return self.chars(64, HEX)

    def pinecone(self) -> str:
        return f"pcsk_{self.chars(self.random.choice((5, 6)))}_{self.chars(63)}"

    def uuid4(self) -> str:
        value = self.chars(32, HEX)
        return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-{self.random.choice('89ab')}{value[17:20]}-{value[20:]}"

    def deepseek(self) -> str:
        return f"sk-{self.chars(32, HEX)}"

    def mixed_case(self, n: int) -> str:
        while True:
            value = self.chars(n)
            if any(c.isupper() for c in value) and any(c.islower() for c in value):
                return value

    def mistral(self) -> str:
        return self.mixed_case(32)

    def cohere(self) -> str:
        return self.mixed_case(40)

    def wandb(self) -> str:
        return self.chars(40, HEX)

    def wandb_v1(self) -> str:
        return f"wandb_v1_{self.chars(77, WORD)}"

    def elevenlabs(self) -> str:
        return f"sk_{self.chars(48, HEX)}"

    def elevenlabs_legacy(self) -> str:
        return self.chars(32, HEX)

    def fal(self) -> str:
        return f"{self.uuid4()}:{self.chars(32, HEX)}"

    # -- chat, payments --------------------------------------------------------------------
    def slack_bot(self) -> str:
        return f"xoxb-{self.chars(12, DIGITS)}-{self.chars(13, DIGITS)}-{self.chars(24)}"

    def slack_user(self) -> str:
        return f"xoxp-{self.chars(12, DIGITS)}-{self.chars(12, DIGITS)}-{self.chars(13, DIGITS)}-{self.chars(32, HEX)}"

    def slack_app(self) -> str:
        return f"xapp-1-A{self.chars(10, UPPER_ALNUM)}-{self.chars(13, DIGITS)}-{self.chars(64, HEX)}"

    def slack_refresh(self) -> str:
        """Token-rotation / configuration refresh token."""
        return f"xoxe-1-{self.chars(146)}"

    def slack_rotating(self, kind: str = "xoxb") -> str:
        """Expiring access token of an app with token rotation (or an app configuration token)."""
        return f"xoxe.{kind}-1-{self.chars(self.random.randint(163, 166))}"

    def slack_client(self) -> str:
        """A browser session's client token (used with its `d` cookie)."""
        return (f"xoxc-{self.chars(12, DIGITS)}-{self.chars(12, DIGITS)}-{self.chars(13, DIGITS)}-"
                f"{self.chars(64, HEX)}")

    def slack_cookie(self) -> str:
        """A browser session's `d` cookie, URL-encoded base64 as browsers store it."""
        parts = [self.chars(self.random.randint(6, 30)) for _ in range(6)]
        return "xoxd-" + self.random.choice(["%2F", "%2B"]).join(parts) + "%3D"

    def slack_webhook(self) -> str:
        return (f"https://hooks.slack.com/services/T{self.chars(10, UPPER_ALNUM)}/B{self.chars(10, UPPER_ALNUM)}/"
                f"{self.chars(24)}")

    def stripe(self, kind: str = "sk") -> str:
        return f"{kind}_live_51{self.chars(97)}"

    # -- private keys ----------------------------------------------------------------------
    def _integer(self, n_bytes: int) -> bytes:
        body = bytes([self.random.randint(0x40, 0x7F)]) + self.random.randbytes(n_bytes - 1)
        return _der(0x02, body)

    def rsa_der(self) -> bytes:
        """A PKCS#1 RSAPrivateKey with the right shape (2048-bit sizes) and random numbers: it is
        structurally a key and mathematically none."""
        fields = [_der(0x02, b"\x00"), self._integer(257), _der(0x02, b"\x01\x00\x01"), self._integer(256),
                  self._integer(129), self._integer(129), self._integer(128), self._integer(128), self._integer(128)]
        return _der(0x30, b"".join(fields))

    def pkcs8_der(self) -> bytes:
        algorithm = _der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
        return _der(0x30, _der(0x02, b"\x00") + algorithm + _der(0x04, self.rsa_der()))

    def ec_der(self) -> bytes:
        return _der(0x30, _der(0x02, b"\x01") + _der(0x04, self.random.randbytes(32))
                    + bytes.fromhex("a00a06082a8648ce3d030107") + _der(0xA1, _der(0x03, b"\x00\x04" + self.random.randbytes(64))))

    def openssh_key(self) -> bytes:
        def string_(value: bytes) -> bytes:
            return len(value).to_bytes(4, "big") + value
        public = string_(b"ssh-ed25519") + string_(self.random.randbytes(32))
        check = self.random.randbytes(4)
        private = (check + check + string_(b"ssh-ed25519") + string_(self.random.randbytes(32))
                   + string_(self.random.randbytes(64)) + string_(b"generated@keygen") + b"\x01\x02\x03")
        return (b"openssh-key-v1\x00" + string_(b"none") + string_(b"none") + string_(b"")
                + (1).to_bytes(4, "big") + string_(public) + string_(private))

    def private_key_pem(self, kind: str = "pkcs8") -> str:
        """Canonical PEM text of a generated key: pkcs8, rsa, ec or openssh."""
        label, data = {
            "pkcs8": ("PRIVATE KEY", self.pkcs8_der),
            "rsa": ("RSA PRIVATE KEY", self.rsa_der),
            "ec": ("EC PRIVATE KEY", self.ec_der),
            "openssh": ("OPENSSH PRIVATE KEY", self.openssh_key),
        }[kind]
        return canonical_pem(label, data())

    def gcp_service_account(self) -> ServiceAccountKey:
        project = f"{self.random.choice(['ml', 'agents', 'rag', 'infra'])}-{self.chars(6, string.ascii_lowercase + DIGITS)}"
        account = f"{self.random.choice(['trainer', 'indexer', 'ci-deployer'])}-{self.chars(4, string.ascii_lowercase)}"
        email = f"{account}@{project}.iam.gserviceaccount.com"
        key_id = self.chars(40, HEX)
        pem = self.private_key_pem("pkcs8")
        client_id = self.chars(21, DIGITS)
        document = {
            "type": "service_account", "project_id": project, "private_key_id": key_id, "private_key": pem,
            "client_email": email, "client_id": client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email.replace('@', '%40')}",
            "universe_domain": "googleapis.com",
        }
        return ServiceAccountKey(json.dumps(document, indent=2) + "\n", pem, key_id, email, project)
