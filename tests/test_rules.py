"""The shipped rule catalogue passes its own check: every rule compiles, has a `secret` group, and
matches its examples and none of its negative examples, through the real engine. Each example is
also its own test case against the full catalogue, with both backends, so a rule that another
rule's match shadows (or a backend that disagrees) names itself."""

from __future__ import annotations

import pytest

from keysweep.scanner.engine import Engine, _max_width, hyperscan_available
from keysweep.scanner.rules import default_rules_dir, load_rules, self_test


def test_shipped_rules_pass_their_examples():
    rules = load_rules()
    assert rules, "no rules shipped"
    assert self_test(rules) == []


def test_shipped_rules_are_well_formed():
    rules = load_rules()
    ids = [rule.id for rule in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert rule.origin.startswith(str(default_rules_dir())), rule.origin
        assert rule.examples and rule.negative_examples, rule.id
        assert rule.description and rule.name and rule.provider, rule.id


def test_pipeline_rules_of_the_issue_are_there():
    ids = {rule.id for rule in load_rules()}
    assert {"openai.project-key", "openai.service-account-key", "openai.admin-key", "anthropic.api-key",
            "huggingface.user-token", "google.api-key", "aws.access-key-id", "aws.secret-access-key",
            "github.classic-pat"} <= ids


def test_rules_check_command(run):
    result = run("rules", "check")
    assert result.code == 0, result
    assert result.stdout.endswith("examples)\n") and "rules OK" in result.stdout


def test_rules_list_json(run):
    result = run("rules", "list", "--format", "json")
    assert result.code == 0, result
    listed = result.json()
    assert {r["id"] for r in listed} == {r.id for r in load_rules()}
    assert all({"id", "name", "provider", "long_lived", "keywords"} <= set(r) for r in listed)


# -- every example as its own case, full catalogue, both backends ------------------------------
RULES = load_rules(validate_shipped=True)
BACKENDS = ["regex", "hyperscan"] if hyperscan_available() else ["regex"]

EXAMPLES = [pytest.param(rule, i, id=f"{rule.id}[{i}]") for rule in RULES for i in range(len(rule.examples))]
NEGATIVES = [pytest.param(rule, i, id=f"{rule.id}[{i}]") for rule in RULES for i in range(len(rule.negative_examples))]


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request, session_cache):
    with pytest.MonkeyPatch.context() as patch:  # keep the Hyperscan cache out of the user's home
        patch.setenv("XDG_CACHE_HOME", str(session_cache))
        yield Engine(RULES, backend=request.param)


@pytest.mark.parametrize("rule, index", EXAMPLES)
def test_example_is_found_by_its_rule(engine, rule, index):
    matches = engine.scan(rule.examples[index].encode())
    assert rule.id in {m.rule_id for m in matches}, [m.rule_id for m in matches]


@pytest.mark.parametrize("rule, index", NEGATIVES)
def test_negative_example_is_not_found_by_its_rule(engine, rule, index):
    matches = engine.scan(rule.negative_examples[index].encode())
    assert rule.id not in {m.rule_id for m in matches}


def test_every_rule_has_a_bounded_width_and_keywords():
    """Unbounded patterns are confirmed over whole files; rules without keywords run on every file
    in the pure-regex engine. Neither may ship."""
    for rule in RULES:
        assert _max_width(rule.regex) is not None, rule.id
        assert rule.keywords and all(k == k.lower() for k in rule.keywords), rule.id


def test_keywords_are_necessary_for_every_example():
    """The regex engine skips a rule whose keywords are absent: every example must hold one, or the
    two engines would disagree."""
    for rule in RULES:
        for example in rule.examples:
            assert any(k in example.lower() for k in rule.keywords), (rule.id, example[:40])


def test_every_provider_module_name_matches_a_provider():
    """`detectors.verifier_for(provider)` imports keysweep.providers.<provider>: providers must be
    spelled as module names (dashes become underscores)."""
    for rule in RULES:
        assert rule.provider.replace("-", "_").isidentifier(), rule.provider


def test_long_lived_is_stated_honestly_for_short_lived_kinds():
    by_id = {rule.id: rule for rule in RULES}
    for short in ("github.installation-token", "github.user-to-server-token", "aws.bedrock-short-term-api-key",
                  "slack.rotating-bot-token", "slack.rotating-user-token"):
        assert by_id[short].long_lived is False
    assert all(rule.long_lived for rule in RULES if rule.provider in ("openai", "anthropic", "gcp", "stripe"))


COVERED = {
    "openai": {"openai.project-key", "openai.service-account-key", "openai.admin-key", "openai.legacy-key"},
    "anthropic": {"anthropic.api-key", "anthropic.admin-key"},
    "huggingface": {"huggingface.user-token", "huggingface.org-token"},
    "google": {"google.api-key", "google.api-key-aq"},
    "azure": {"azure.openai-key", "azure.openai-key-endpoint-before", "azure.openai-key-endpoint-after",
              "azure.ai-services-key"},
    "aws": {"aws.access-key-id", "aws.secret-access-key", "aws.access-key-pair-csv", "aws.bedrock-api-key",
            "aws.bedrock-short-term-api-key", "aws.session-credentials", "aws.access-key-pair-uri",
            "aws.terraform-state-secret"},
    "groq": {"groq.api-key"}, "replicate": {"replicate.api-token"}, "xai": {"xai.api-key"},
    "openrouter": {"openrouter.api-key"}, "perplexity": {"perplexity.api-key"},
    "langsmith": {"langsmith.personal-access-token", "langsmith.service-key"},
    "together": {"together.api-key", "together.legacy-api-key"},
    "pinecone": {"pinecone.api-key", "pinecone.legacy-api-key"},
    "deepseek": {"deepseek.api-key", "deepseek.api-key-host-after"}, "mistral": {"mistral.api-key"},
    "cohere": {"cohere.api-key"}, "wandb": {"wandb.api-key", "wandb.netrc", "wandb.api-key-v1"},
    "elevenlabs": {"elevenlabs.api-key", "elevenlabs.legacy-api-key"}, "fal": {"fal.api-key", "fal.api-key-header"},
    "gcp": {"gcp.service-account-key"},
    "github": {"github.classic-pat", "github.oauth-token", "github.user-to-server-token",
               "github.installation-token", "github.refresh-token", "github.fine-grained-pat"},
    "gitlab": {"gitlab.pat", "gitlab.pat-routable", "gitlab.deploy-token", "gitlab.runner-token",
               "gitlab.runner-token-routable", "gitlab.pipeline-trigger-token", "gitlab.runner-registration-token"},
    "slack": {"slack.bot-token", "slack.user-token", "slack.app-token", "slack.webhook-url", "slack.refresh-token",
              "slack.rotating-bot-token", "slack.rotating-user-token", "slack.client-token", "slack.session-cookie"},
    "stripe": {"stripe.secret-key", "stripe.restricted-key"},
    "private-key": {"private-key.pem"},
    "generic": {"generic.ai-bearer-token", "generic.ai-bearer-token-host-after"},
}


def test_the_catalogue_covers_the_issue_list():
    ids = {rule.id for rule in RULES}
    for provider, wanted in COVERED.items():
        assert wanted <= ids, (provider, wanted - ids)


def test_rules_list_of_one_provider_in_any_case_and_a_warning_for_an_unknown_one(run):
    listed = run("rules", "list", "--provider", "OpenAI", "--format", "json")
    assert listed.code == 0 and listed.json() and {r["provider"] for r in listed.json()} == {"openai"}
    unknown = run("rules", "list", "--provider", "nosuch", "--format", "json")
    assert unknown.code == 0 and unknown.json() == []
    assert unknown.stderr.startswith("keysweep: warning: --provider 'nosuch': no rule of this provider")
    assert "openai" in unknown.stderr and len(unknown.stderr.splitlines()) == 1
