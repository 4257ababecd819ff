"""One home per provider: everything keysweep knows about a provider is in
`keysweep/providers/<name>.py` (its record in the PROVIDERS table), its destructive calls in
`keysweep/revokers/<name>.py`; nothing else in the package names it (issue "one home per provider").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from keysweep.providers import PROVIDERS
from keysweep.revokers import BUILTIN, available_revokers
from keysweep.settings import Settings, admin_key_env, base_url_env

PACKAGE = Path(__file__).resolve().parent.parent / "keysweep"
# Fixtures for the demo and the tests' key generator may name any provider (issue 11's "done when").
EXEMPT = {PACKAGE / "testing" / "keygen.py", PACKAGE / "demo.py"}
# Names that are also sources, clouds or plain words (`aws` sources, GitHub/GitLab forges, a `generic`
# rule, a Slack webhook...): the package legitimately says them outside the provider's home.
SOURCE_WORDS = {"aws", "azure", "github", "gitlab", "gcp", "google", "slack", "generic", "private-key"}
# A provider named by an everyday word is looked for only as an identifier ("together",
# `together.api-key`) or by its title; "keeps delta bases together" does not name it.
EVERYDAY_WORDS = {"together"}
URL = re.compile(r"https?://\S+")


def module_of(name: str) -> Path:
    return PACKAGE / "providers" / f"{name.replace('-', '_')}.py"


def homes(name: str) -> set[Path]:
    return {module_of(name), PACKAGE / "revokers" / f"{name.replace('-', '_')}.py",
            PACKAGE / "providers" / "__init__.py"}


def mention(name: str) -> re.Pattern[str]:
    """The provider's name as a word (`_`, `-`, `.` and case do not hide it: OPENAI_ADMIN_KEY,
    `openai-admin` and `openai.project-key` all name it)."""
    title = re.escape(PROVIDERS[name].title)
    if name in EVERYDAY_WORDS:
        return re.compile(rf"[\"']{re.escape(name)}[\"'.]|\b{title}\b")
    return re.compile(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])|\b{title}\b", re.IGNORECASE)


def sources() -> dict[Path, str]:
    # A URL is an address, not a name: a base URL may carry another provider's path (`/openai/v1`).
    return {path: URL.sub("", path.read_text()) for path in PACKAGE.rglob("*.py") if path not in EXEMPT}


STRICT = sorted(name for name in PROVIDERS if name not in SOURCE_WORDS)


def test_every_registered_provider_has_its_module():
    for name, record in PROVIDERS.items():
        assert record.name == name and module_of(name).is_file(), name


def test_the_strict_check_covers_every_ai_provider():
    assert set(STRICT) >= {"anthropic", "openai", "cohere", "deepseek", "groq", "huggingface", "langsmith", "mistral",
                           "openrouter", "perplexity", "pinecone", "replicate", "together", "wandb", "xai", "stripe"}


@pytest.mark.parametrize("name", STRICT)
def test_only_the_providers_home_names_it(name):
    pattern = mention(name)
    strangers = sorted(str(path.relative_to(PACKAGE.parent)) for path, text in sources().items()
                       if path not in homes(name) and pattern.search(text))
    assert not strangers, f"{name} is named outside its module, revoker and the registry: {strangers}"


def test_the_name_check_sees_what_it_must():
    assert mention("openai").search("OPENAI_ADMIN_KEY") and mention("openai").search('"openai-admin"')
    assert mention("anthropic").search("Anthropic's Admin API") and mention("wandb").search("W&B" + " wandb.ai")
    assert mention("together").search('provider = "together"') and mention("together").search("Together AI docs")
    assert not mention("together").search("keeps delta bases together")
    assert not mention("openai").search(URL.sub("", 'base_url="https://api.groq.com/openai/v1"'))


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_providers_console_url_and_api_version_are_written_once(name):
    record = PROVIDERS[name]
    facts = [fact for fact in (record.console_url, record.api_version) if fact]
    for fact in facts:
        holders = sorted(str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py")
                         if path not in EXEMPT and fact in path.read_text())
        assert holders == [str(module_of(name).relative_to(PACKAGE.parent))], (name, fact, holders)


# -- revokers: gathered from the records ----------------------------------------------------------
def test_builtin_revokers_are_the_records_in_registry_order_then_notify():
    declared = [(name, target) for record in PROVIDERS.values() for name, target in record.revokers.items()]
    assert list(BUILTIN.items()) == [*declared, ("notify", "keysweep.revokers.notify:NotifyRevoker")]
    order = list(available_revokers())
    assert order[-1] == "notify" and order.index("aws") < order.index("aws-rotate")


def test_every_revoker_module_is_declared_by_a_provider():
    declared = {target.partition(":")[0].rsplit(".", 1)[1] for target in BUILTIN.values()}
    shared = {"__init__", "_common", "base", "binding", "http_revoker"}  # the interface and shared helpers
    modules = {path.stem for path in (PACKAGE / "revokers").glob("*.py")} - shared
    assert modules == declared
    assert {"github", "gitlab", "slack", "openai", "anthropic", "aws", "aws-rotate", "perplexity", "openrouter", "gcp",
            "notify"} <= set(BUILTIN)


def test_every_rotation_target_store_is_one_module_registered_once():
    """A secret store the AWS rotation writes into is one module under revokers/rotation/ and one entry in
    rotation.STORES; no service or occurrence source is claimed by two stores."""
    from keysweep.revokers import rotation

    modules = {path.stem for path in (PACKAGE / "revokers" / "rotation").glob("*.py")} - {"__init__", "base"}
    registered = [store.describe.__module__.rpartition(".")[2] for store in rotation.STORES]
    assert sorted(registered) == sorted(modules)
    services = [service for store in rotation.STORES for service in store.calls]
    sources = [source for store in rotation.STORES for source in store.sources]
    assert len(set(services)) == len(services) and len(set(sources)) == len(sources)


# -- settings: the records keep the configuration contract ----------------------------------------
# The environment names and default endpoints as they were when settings.py held them in tables:
# a configuration contract (extend, never rename).
CONTRACT = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_ADMIN_KEY", "https://api.openai.com/v1"),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_ADMIN_KEY", "https://api.anthropic.com"),
    "huggingface": ("HF_ENDPOINT", "KEYSWEEP_HUGGINGFACE_ADMIN_KEY", "https://huggingface.co"),
    "github": ("GITHUB_API_URL", "GITHUB_TOKEN", "https://api.github.com"),
    "gitlab": ("GITLAB_URL", "GITLAB_TOKEN", "https://gitlab.com"),
    "aws": ("AWS_ENDPOINT_URL", "KEYSWEEP_AWS_ADMIN_KEY", None),
    # Google API keys are looked up and deleted with GCP's OAuth token (issue 11): the existing
    # KEYSWEEP_GCP_ADMIN_KEY, not a second name (KEYSWEEP_GOOGLE_ADMIN_KEY was a default nothing read).
    "google": ("KEYSWEEP_GOOGLE_BASE_URL", "KEYSWEEP_GCP_ADMIN_KEY", "https://generativelanguage.googleapis.com"),
    "slack": ("KEYSWEEP_SLACK_BASE_URL", "KEYSWEEP_SLACK_ADMIN_KEY", "https://slack.com/api"),
    "groq": ("KEYSWEEP_GROQ_BASE_URL", "KEYSWEEP_GROQ_ADMIN_KEY", "https://api.groq.com/openai/v1"),
    "xai": ("KEYSWEEP_XAI_BASE_URL", "KEYSWEEP_XAI_ADMIN_KEY", "https://api.x.ai/v1"),
    "openrouter": ("KEYSWEEP_OPENROUTER_BASE_URL", "KEYSWEEP_OPENROUTER_ADMIN_KEY", "https://openrouter.ai/api/v1"),
    "langsmith": ("KEYSWEEP_LANGSMITH_BASE_URL", "KEYSWEEP_LANGSMITH_ADMIN_KEY", "https://api.smith.langchain.com"),
    "replicate": ("KEYSWEEP_REPLICATE_BASE_URL", "KEYSWEEP_REPLICATE_ADMIN_KEY", "https://api.replicate.com/v1"),
    "mistral": ("KEYSWEEP_MISTRAL_BASE_URL", "KEYSWEEP_MISTRAL_ADMIN_KEY", "https://api.mistral.ai/v1"),
    "deepseek": ("KEYSWEEP_DEEPSEEK_BASE_URL", "KEYSWEEP_DEEPSEEK_ADMIN_KEY", "https://api.deepseek.com"),
    "together": ("KEYSWEEP_TOGETHER_BASE_URL", "KEYSWEEP_TOGETHER_ADMIN_KEY", "https://api.together.xyz/v1"),
    "perplexity": ("KEYSWEEP_PERPLEXITY_BASE_URL", "KEYSWEEP_PERPLEXITY_ADMIN_KEY", "https://api.perplexity.ai"),
    "pinecone": ("KEYSWEEP_PINECONE_BASE_URL", "KEYSWEEP_PINECONE_ADMIN_KEY", "https://api.pinecone.io"),
    "cohere": ("KEYSWEEP_COHERE_BASE_URL", "KEYSWEEP_COHERE_ADMIN_KEY", "https://api.cohere.com"),
    "stripe": ("KEYSWEEP_STRIPE_BASE_URL", "KEYSWEEP_STRIPE_ADMIN_KEY", "https://api.stripe.com/v1"),
    "wandb": ("KEYSWEEP_WANDB_BASE_URL", "KEYSWEEP_WANDB_ADMIN_KEY", None),
    "gcp": ("KEYSWEEP_GCP_BASE_URL", "KEYSWEEP_GCP_ADMIN_KEY", None),
    "private-key": ("KEYSWEEP_PRIVATE_KEY_BASE_URL", "KEYSWEEP_PRIVATE_KEY_ADMIN_KEY", None),
    # Providers with rules but no module keep keysweep's own names and no default.
    "azure": ("KEYSWEEP_AZURE_BASE_URL", "KEYSWEEP_AZURE_ADMIN_KEY", None),
    "elevenlabs": ("KEYSWEEP_ELEVENLABS_BASE_URL", "KEYSWEEP_ELEVENLABS_ADMIN_KEY", None),
    "fal": ("KEYSWEEP_FAL_BASE_URL", "KEYSWEEP_FAL_ADMIN_KEY", None),
    "generic": ("KEYSWEEP_GENERIC_BASE_URL", "KEYSWEEP_GENERIC_ADMIN_KEY", None),
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_environment_names_and_default_endpoints_are_unchanged(name):
    base_env, admin_env, default = CONTRACT[name]
    assert (base_url_env(name), admin_key_env(name), Settings(env={}).base_url(name)) == (base_env, admin_env, default)
    redirected = Settings(env={base_env: "http://127.0.0.1:9/x/", admin_env: "k"})
    assert redirected.base_url(name) == "http://127.0.0.1:9/x" and redirected.admin_key(name) == "k"


def test_the_contract_covers_every_registered_provider():
    assert set(PROVIDERS) <= set(CONTRACT)


def string_constants(path: Path):
    """(line, text) of every string in `path`'s code; docstrings may name a setting, so they are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def record_facts() -> dict[str, set[str]]:
    """Each environment name and default endpoint on a record -> the providers whose record it is."""
    facts: dict[str, set[str]] = {}
    for name, record in PROVIDERS.items():
        endpoints = [value for endpoint in record.endpoints.values() for value in (endpoint.env, endpoint.default)]
        for value in (record.env_name_for_base_url(), record.env_name_for_admin_key(), record.base_url, *endpoints):
            if value:
                facts.setdefault(value, set()).add(name)
    return facts


def test_environment_names_and_default_endpoints_are_written_only_on_the_record():
    """Forge sources and commands, AWS clients, revokers' `needs`: all read them from the record."""
    facts = record_facts()
    assert {"GITHUB_TOKEN", "GITLAB_URL", "AWS_ENDPOINT_URL", "https://gitlab.com"} <= set(facts)
    repeated = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in EXEMPT:
            continue
        for line, text in string_constants(path):
            repeated += [f"{path.relative_to(PACKAGE.parent)}:{line}: {fact}" for fact, names in facts.items()
                         if fact in text and path not in {module_of(name) for name in names}]
    assert repeated == []
