"""Offline checks and normalisation of the catalogue, and where keys hide: JSON strings with
escapes, notebooks, URLs, YAML, HCL, shell exports, Dockerfiles and compose files."""

from __future__ import annotations

import base64
import json

import pytest

from keysweep.fingerprint import redact
from keysweep.providers import aws, private_key
from keysweep.scanner.engine import Engine
from keysweep.scanner.rules import load_rules

RULES = load_rules()


def found(engine: Engine, text: str) -> set[tuple[str, str]]:
    return {(m.rule_id, m.secret) for m in engine.scan(text.encode())}


# -- AWS ------------------------------------------------------------------------------------------
def test_account_id_is_decoded_from_the_key_id():
    assert aws.account_id("ASIAY34FZKBOKMUTVV7A") == "609629065308"  # Tal Be'ery's published example
    assert aws.account_id("AKIAIOSFODNN7EXAMPLE") is None              # 5th character I: older encoding


def test_account_id_reaches_the_json_finding(run, tmp_path, keys):
    key_id, secret = keys.aws_access_key_id(), keys.aws_secret_access_key()
    (tmp_path / "credentials").write_text(f"[default]\naws_access_key_id={key_id}\naws_secret_access_key={secret}\n")
    result = run("scan", "dir", tmp_path, "--no-store", "--format", "json")
    [finding] = result.json()
    assert finding["key_id"] == key_id and finding["account_id"] == aws.account_id(key_id)
    assert finding["metadata"] == {"account_id": aws.account_id(key_id)}


def test_csv_pair_is_one_finding(engine, keys):
    key_id, secret = keys.aws_access_key_id(), keys.aws_secret_access_key()
    matches = engine.scan(f"User name,Password,Access key ID,Secret access key\nci,,{key_id},{secret}\n".encode())
    assert [(m.rule_id, m.secret, m.key_id) for m in matches] == [("aws.access-key-pair-csv", secret, key_id)]


def test_aws_documentation_pair_is_no_finding(engine):
    text = "AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\naws_access_key_id=AKIAIOSFODNN7EXAMPLE\n"
    assert found(engine, text) == set()


def test_bedrock_key_must_decode_to_its_marker(keys):
    key = keys.aws_bedrock()
    assert aws.valid_bedrock_key(key)
    assert not aws.valid_bedrock_key("ABSK" + base64.b64encode(b"SomethingElse-" + b"x" * 80).decode())


# -- PEM and GCP ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["pkcs8", "rsa", "ec", "openssh"])
def test_every_spelling_of_a_key_has_one_canonical_form(engine, keys, kind):
    pem = keys.private_key_pem(kind)
    spellings = [
        pem,                                                      # a .pem file
        pem.replace("\n", "\r\n"),                                # CRLF
        json.dumps({"key": pem}),                                 # JSON string, \n escapes
        json.dumps({"outer": json.dumps({"key": pem})}),          # JSON inside JSON, \\n
        "tls:\n  key: |\n" + "".join(f"    {line}\n" for line in pem.splitlines()),  # YAML block
    ]
    for text in spellings:
        assert found(engine, text) == {("private-key.pem", pem)}, text[:60]


def test_structurally_broken_keys_are_no_findings(engine, keys):
    pem = keys.private_key_pem("rsa")
    lines = pem.splitlines()
    truncated = "\n".join(lines[:5] + lines[-1:])
    assert found(engine, truncated) == set()
    encrypted = keys.openssh_key().replace(b"none", b"aes256-ctr", 1)
    assert not private_key.valid_openssh_key(encrypted)


def test_service_account_json_is_one_finding_whatever_its_spelling(engine, keys):
    sa = keys.gcp_service_account()
    document = json.loads(sa.json_text)
    spellings = [
        sa.json_text,
        json.dumps(document),                                     # minified
        json.dumps(document, sort_keys=True),                     # client_email before private_key
        json.dumps({"GOOGLE_CREDENTIALS": json.dumps(document)}),  # JSON inside JSON
        f"data:\n  key.json: {base64.b64encode(sa.json_text.encode()).decode()}\n",  # Kubernetes Secret
    ]
    for text in spellings:
        matches = engine.scan(text.encode())
        assert [(m.rule_id, m.secret, m.key_id) for m in matches] == [
            ("gcp.service-account-key", sa.private_key, sa.private_key_id)], text[:60]
        assert matches[0].metadata == {"client_email": sa.client_email, "private_key_id": sa.private_key_id,
                                       "project_id": sa.project_id}


def test_pem_redaction_shows_the_armour_and_the_body_tail(keys):
    pem = keys.private_key_pem("pkcs8")
    body = "".join(pem.splitlines()[1:-1]).rstrip("=")
    assert redact(pem, "-----BEGIN") == f"-----BEGIN PRIVATE KEY-----…{body[-4:]}"


# -- overlaps -------------------------------------------------------------------------------------
def test_a_bearer_token_a_provider_rule_knows_is_reported_by_that_rule(engine, keys):
    key = keys.groq()
    text = f'curl https://api.groq.com/openai/v1/models -H "Authorization: Bearer {key}"'
    assert found(engine, text) == {("groq.api-key", key)}


def test_an_unknown_bearer_token_to_an_ai_host_is_reported_with_its_host(engine, keys):
    token = "fw_" + keys.chars(30)
    matches = engine.scan(f'curl https://api.fireworks.ai/inference/v1/models -H "Authorization: Bearer {token}"'.encode())
    assert [(m.rule_id, m.secret, m.metadata) for m in matches] == [
        ("generic.ai-bearer-token", token, {"api_host": "api.fireworks.ai"})]


def test_checksums_reject_near_misses(engine, keys):
    assert found(engine, f"GITHUB_TOKEN={keys.github_bad_checksum()}") == set()
    assert found(engine, f"GITLAB_TOKEN={keys.gitlab_routable_bad_checksum()}") == set()
    good = keys.gitlab_routable()
    assert found(engine, f"GITLAB_TOKEN={good}") == {("gitlab.pat-routable", good)}


def test_identifiers_sharing_a_prefix_are_no_findings(engine):
    text = ("from huggingface_hub import hf_hub_download\n"
            "def gsk_build_features_for_the_ranking_model_in_production(): pass\n"
            "route = '/sk-admin-settings/users'\n"
            "x = api_org_settings_for_the_current_workspace_v2()\n")
    assert found(engine, text) == set()


# -- where keys hide ------------------------------------------------------------------------------
def places(keys):
    """(file kind, text, secret) for each kind of file the issue names."""
    openai, anthropic, hf = keys.openai_project(), keys.anthropic(), keys.huggingface()
    google, groq, mistral = keys.google_api_key(), keys.groq(), keys.mistral()
    cohere, stripe, gitlab = keys.cohere(), keys.stripe(), keys.gitlab_pat()
    notebook = {"cells": [{"cell_type": "code", "source": [
        "import os\n", f'os.environ["OPENAI_API_KEY"] = "{openai}"\n'],
        "outputs": [{"output_type": "stream", "text": [f"using\n{hf}\n"]}]}]}
    return [
        ("json", json.dumps({"config": {"anthropic": {"api_key": anthropic}}}), anthropic),
        ("ipynb source", json.dumps(notebook, indent=1), openai),
        ("ipynb output", json.dumps(notebook, indent=1), hf),
        ("url", f"https://generativelanguage.googleapis.com/v1beta/models?key={google}&alt=json", google),
        ("yaml", f"llm:\n  provider: groq\n  api_key: \"{groq}\"\n", groq),
        ("hcl", f'resource "kubernetes_secret" "llm" {{\n  data = {{\n    mistral_api_key = "{mistral}"\n  }}\n}}\n', mistral),
        ("shell export", f"export CO_API_KEY='{cohere}'\n", cohere),
        ("dockerfile", f"FROM python:3.12\nENV STRIPE_KEY={stripe}\nENV MISTRAL_API_KEY {mistral}\n", stripe),
        ("dockerfile legacy ENV", f"FROM python:3.12\nENV MISTRAL_API_KEY {mistral}\n", mistral),
        ("compose", f"services:\n  app:\n    environment:\n      - GITLAB_TOKEN={gitlab}\n", gitlab),
        ("compose map", f"services:\n  app:\n    environment:\n      MISTRAL_API_KEY: {mistral}\n", mistral),
    ]


def test_keys_are_found_in_every_kind_of_file(engine, keys):
    for kind, text, secret in places(keys):
        assert secret in {s for _, s in found(engine, text)}, kind
