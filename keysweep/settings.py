"""Configuration: `keysweep.toml` (or `--config`) plus each ecosystem's own environment variables,
so existing setups work and tests can point every provider at 127.0.0.1.

| provider | base URL | admin credential |
|---|---|---|
| aws | AWS_ENDPOINT_URL (boto3's own) | the standard AWS credential chain |
| github | GITHUB_API_URL | GITHUB_TOKEN |
| gitlab | GITLAB_URL | GITLAB_TOKEN |
| openai | OPENAI_BASE_URL | OPENAI_ADMIN_KEY |
| anthropic | ANTHROPIC_BASE_URL | ANTHROPIC_ADMIN_KEY |
| huggingface | HF_ENDPOINT | — |
| others | KEYSWEEP_<PROVIDER>_BASE_URL | KEYSWEEP_<PROVIDER>_ADMIN_KEY |

`[providers.<name>]` in keysweep.toml may set `base_url`, `admin_key_env` (the name of an
environment variable holding the admin key — never the key itself) and `rate_limit` (requests/s).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from keysweep.errors import KeysweepError
from keysweep.safefs import read_text

CONFIG_FILE = "keysweep.toml"
OWNERS_FILE = "keysweep-owners.toml"

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "huggingface": "https://huggingface.co",
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "google": "https://generativelanguage.googleapis.com",
    "slack": "https://slack.com/api",
    "groq": "https://api.groq.com/openai/v1",
    "xai": "https://api.x.ai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "langsmith": "https://api.smith.langchain.com",
    "replicate": "https://api.replicate.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "deepseek": "https://api.deepseek.com",
    "together": "https://api.together.xyz/v1",
    "perplexity": "https://api.perplexity.ai",
    "pinecone": "https://api.pinecone.io",
    "cohere": "https://api.cohere.com",
    "stripe": "https://api.stripe.com/v1",
}

BASE_URL_ENV = {
    "aws": "AWS_ENDPOINT_URL",
    "github": "GITHUB_API_URL",
    "gitlab": "GITLAB_URL",
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "huggingface": "HF_ENDPOINT",
}

ADMIN_KEY_ENV = {
    "github": "GITHUB_TOKEN",
    "gitlab": "GITLAB_TOKEN",
    "openai": "OPENAI_ADMIN_KEY",
    "anthropic": "ANTHROPIC_ADMIN_KEY",
}


def base_url_env(provider: str) -> str:
    return BASE_URL_ENV.get(provider, f"KEYSWEEP_{provider.upper().replace('-', '_')}_BASE_URL")


def admin_key_env(provider: str) -> str:
    return ADMIN_KEY_ENV.get(provider, f"KEYSWEEP_{provider.upper().replace('-', '_')}_ADMIN_KEY")


@dataclass
class Settings:
    config: dict[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    config_path: Path | None = None

    def provider(self, name: str) -> dict[str, Any]:
        return dict(self.config.get("providers", {}).get(name, {}))

    def base_url(self, provider: str) -> str | None:
        """Environment first (so a test or a proxy can redirect), then keysweep.toml, then the default."""
        value = self.env.get(base_url_env(provider)) or self.provider(provider).get("base_url") \
            or DEFAULT_BASE_URLS.get(provider)
        return value.rstrip("/") if value else None

    def admin_key(self, provider: str) -> str | None:
        env_name = self.provider(provider).get("admin_key_env") or admin_key_env(provider)
        return self.env.get(env_name) or None

    def rate_limit(self, provider: str, default: float = 10.0) -> float:
        return float(self.provider(provider).get("rate_limit", default))

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.config.get(name, {}))


def load_settings(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """`--config PATH`, else ./keysweep.toml if present, else defaults."""
    env = os.environ if env is None else env
    candidate = Path(path) if path else Path.cwd() / CONFIG_FILE
    if not candidate.exists():
        if path:
            raise KeysweepError(f"{candidate}: no such configuration file")
        return Settings(env=env)
    try:
        # A FIFO or a link to a device named keysweep.toml must not hang or exhaust the run.
        config = tomllib.loads(read_text(candidate, follow_symlinks=True))
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysweepError(f"{candidate}: cannot read configuration: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise KeysweepError(f"{candidate}: malformed TOML: {exc}") from None
    return Settings(config=config, env=env, config_path=candidate)
