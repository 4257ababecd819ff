"""Recall and precision of the whole catalogue on a real git repository.

Generated, format-faithful keys of every covered type are planted in varied file kinds (Python,
YAML, JSON with escapes, notebooks, .env, Dockerfile, HCL, compose, CSV, .netrc, URLs, PEM files)
and in varied places in history: kept in the tree, deleted by a later commit, on an unmerged side
branch, on a branch merged with `-s ours` (in history, never in the tree), base64-encoded in a
Kubernetes Secret, in commit and tag messages, in UTF-16/32 files and behind escapes, inside a zip
(and a tar.gz inside it) and a gzip file, in a SQLite database and a pickle, and across the chunk
boundary of a file over the chunk size. Decoys sit beside them: placeholders, the AWS documentation pair, a redacted
key, GitHub and GitLab tokens whose checksum is wrong, a truncated PEM, test-mode Stripe keys,
templated bearer headers, UUIDs and SHA digests under neutral names, identifiers that share a
prefix, vendors' documentation keys (AWS, Slack), keyboard sequences and redacted values. `keysweep scan git --no-store --format json` must report every planted secret (recall 1.0)
and nothing else (no decoy, no extra finding), with either engine.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import pickle
import sqlite3
import tarfile
import zipfile
from dataclasses import dataclass, field

import pytest

from keysweep.providers.aws import account_id
from keysweep.scanner.chunked import CHUNK_SIZE
from keysweep.testing.gitrepo import RepoBuilder
from keysweep.testing.keygen import KeyGen
from tests.conftest import BACKENDS


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


@dataclass
class Plant:
    rule_id: str
    secret: str                      # the value whose SHA-256 the finding must carry
    where: str                       # "tree", "deleted", "branch", "merged-ours", "base64"
    key_id: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Corpus:
    path: str
    plants: list[Plant]
    decoys: list[str]
    commits: dict[str, str]


def build(path) -> Corpus:
    k = KeyGen(31337)
    repo = RepoBuilder(path)
    plants: list[Plant] = []
    decoys: list[str] = []
    commits: dict[str, str] = {}

    def plant(rule_id: str, value: str, where: str, **extra) -> str:
        plants.append(Plant(rule_id, value, where, **extra))
        return value

    def decoy(value: str) -> str:
        decoys.append(value)
        return value

    repo.commit("Initial commit", {"README.md": "# agent-platform\n", "app/__init__.py": ""})

    # -- kept in the work tree ----------------------------------------------------------------
    openai, svc = plant("openai.project-key", k.openai_project(), "tree"), k.openai_service_account()
    plant("openai.service-account-key", svc, "tree")
    hf = plant("huggingface.user-token", k.huggingface(), "tree")
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": ["import os\n", f'os.environ["OPENAI_API_KEY"] = "{svc}"\n']},
        {"cell_type": "code", "metadata": {}, "source": ["!huggingface-cli whoami\n"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [f"token: {hf}\n"]}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    anthropic = plant("anthropic.api-key", k.anthropic(), "tree")
    google = plant("google.api-key", k.google_api_key(), "tree")
    aws_id, aws_secret = k.aws_access_key_id(), k.aws_secret_access_key()
    plant("aws.secret-access-key", aws_secret, "tree", key_id=aws_id, metadata={"account_id": account_id(aws_id)})
    lone_id = plant("aws.access-key-id", k.aws_access_key_id(), "tree")
    bedrock = plant("aws.bedrock-api-key", k.aws_bedrock(), "tree")
    azure_key = plant("azure.openai-key", k.azure_openai_hex(), "tree")
    azure_cask = plant("azure.ai-services-key", k.azure_openai_cask(), "tree")
    gl_routable = plant("gitlab.pat-routable", k.gitlab_routable(), "tree")
    gl_runner = plant("gitlab.runner-token-routable", k.gitlab_runner_routable(), "tree")
    slack_bot = plant("slack.bot-token", k.slack_bot(), "tree")
    webhook = plant("slack.webhook-url", k.slack_webhook(), "tree")
    stripe = plant("stripe.secret-key", k.stripe("sk"), "tree")
    groq = plant("groq.api-key", k.groq(), "tree")
    mistral = plant("mistral.api-key", k.mistral(), "tree")
    cohere = plant("cohere.api-key", k.cohere(), "tree")
    wandb = plant("wandb.api-key", k.wandb(), "tree")
    pinecone = plant("pinecone.api-key", k.pinecone(), "tree")
    together_legacy = plant("together.legacy-api-key", k.together_legacy(), "tree")
    langsmith = plant("langsmith.personal-access-token", k.langsmith("pt"), "tree")
    fal = plant("fal.api-key", k.fal(), "tree", key_id=None)
    plants[-1].key_id = fal.split(":")[0]
    ssh = plant("private-key.pem", k.private_key_pem("openssh"), "tree")
    fw = plant("generic.ai-bearer-token", "fw_" + k.chars(32), "tree", metadata={"api_host": "api.fireworks.ai"})
    deepseek = plant("deepseek.api-key-host-after", k.deepseek(), "tree")
    gh_fine = plant("github.fine-grained-pat", k.github_fine_grained(), "tree")
    commits["tree"] = repo.commit("Add agent service", {
        ".env": (f"OPENAI_API_KEY={openai}\nAZURE_OPENAI_API_KEY={azure_key}\nGROQ_API_KEY=\n"
                 f"STRIPE_SECRET_KEY={stripe}\nSTRIPE_TEST_KEY={decoy('sk_test_' + k.chars(99))}\n"
                 f"PLACEHOLDER_OPENAI={decoy('sk-proj-your-api-key-here')}\n"),
        "notebooks/explore.ipynb": json.dumps(notebook, indent=1),
        "config/settings.json": json.dumps({"providers": json.dumps({"anthropic": {"api_key": anthropic}})}),
        "web/src/gemini.js": f'const url = "https://generativelanguage.googleapis.com/v1beta/models?key={google}&alt=sse";\n',
        "deploy/aws.ini": (f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n\n"
                           f"[docs]\naws_access_key_id = {decoy('AKIAIOSFODNN7EXAMPLE')}\n"
                           f"aws_secret_access_key = {decoy('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')}\n"),
        "deploy/readme.md": f"The deploy user is `{lone_id}` (ask ops for the secret).\n",
        "Dockerfile": (f"FROM python:3.12-slim\nENV AWS_BEARER_TOKEN_BEDROCK={bedrock}\n"
                       f"ENV MISTRAL_API_KEY {mistral}\nCMD [\"python\", \"-m\", \"app\"]\n"),
        "deploy/values.yaml": f"azure:\n  endpoint: https://acme.openai.azure.com\n  apiKey: {azure_cask}\n",
        "ci/.gitlab-ci.yml": f"variables:\n  GITLAB_TOKEN: \"{gl_routable}\"\n",
        "ci/runner-config.toml": f'[[runners]]\n  url = "https://gitlab.example.com"\n  token = "{gl_runner}"\n',
        "ops/notify.py": f'SLACK_BOT_TOKEN = "{slack_bot}"\nWEBHOOK = "{webhook}"\n',
        "scripts/smoke.sh": (f'curl https://api.groq.com/openai/v1/models -H "Authorization: Bearer {groq}"\n'
                             f'curl https://api.fireworks.ai/inference/v1/models -H "Authorization: Bearer {fw}"\n'
                             'curl https://api.openai.com/v1/models -H "Authorization: Bearer $OPENAI_API_KEY"\n'
                             f"export CO_API_KEY='{cohere}'\n"),
        "train/wandb_setup.py": f'import wandb\nwandb.login(key="{wandb}")\n',
        "rag/index.py": (f'from pinecone import Pinecone\npc = Pinecone(api_key="{pinecone}")\n'
                         f'client = Together(api_key="{together_legacy}")\n'
                         f'client = OpenAI(api_key="{deepseek}", base_url="https://api.deepseek.com")\n'),
        "infra/main.tf": (f'resource "github_actions_secret" "token" {{\n  plaintext_value = "{gh_fine}"\n}}\n'
                          f'variable "langsmith" {{\n  default = "{langsmith}"\n}}\n'),
        "docker-compose.yml": f"services:\n  worker:\n    environment:\n      - FAL_KEY={fal}\n",
        "keys/deploy_ed25519": ssh,
    }, author=("Dana Dev", "dana@example.com"))

    # -- decoys only --------------------------------------------------------------------------
    uuid, sha1, sha256 = k.uuid4(), hashlib.sha1(b"x").hexdigest(), hashlib.sha256(b"x").hexdigest()
    repo.commit("Add fixtures", {
        "tests/fixtures.py": (
            f"OPENAI = '{decoy('sk-proj-' + 'X' * 74 + 'T3BlbkFJ' + 'X' * 74)}'\n"
            f"ANTHROPIC = '{decoy('sk-ant-api03-' + 'x' * 93 + 'AA')}'\n"
            f"HF = '{decoy('hf_' + 'x' * 34)}'\nGH = '{decoy('ghp_' + 'x' * 36)}'\n"
            f"GITLAB = '{decoy('glpat-' + 'x' * 20)}'\nGROQ = '{decoy('gsk_' + 'X' * 52)}'\n"
            f"SLACK = '{decoy('xoxb-000000000000-0000000000000-' + 'X' * 24)}'\n"
            f"GOOGLE = '{decoy('AIzaSy' + 'X' * 33)}'\n"
            f"REDACTED = '{decoy('sk-proj-abcd...wxyz')}'\n"
            f"BAD_CHECKSUMS = ['{decoy(k.github_bad_checksum())}', '{decoy(k.github_bad_checksum())}',\n"
            f"                 '{decoy(k.github_bad_checksum('gho_'))}', '{decoy(k.gitlab_routable_bad_checksum())}']\n"
            f"checksum = '{decoy(sha256)}'\ndigest = '{decoy(sha1)}'\nrequest_id = '{decoy(uuid)}'\n"
            f"MISTRAL_API_KEY = '{decoy(k.chars(32, '0123456789abcdef'))}'  # a digest, not a key\n"
            "from huggingface_hub import hf_hub_download\n"
            "PEM = '-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA...\\n-----END RSA PRIVATE KEY-----\\n'\n"
            'HEADERS = {"Authorization": "Bearer YOUR_API_KEY"}  # https://api.together.xyz\n'),
    })

    # -- deleted by a later commit ------------------------------------------------------------
    admin = plant("openai.admin-key", k.openai_admin(), "deleted")
    ant_admin = plant("anthropic.admin-key", k.anthropic_admin(), "deleted")
    aq = plant("google.api-key-aq", k.google_aq(), "deleted")
    csv_id, csv_secret = k.aws_access_key_id(), k.aws_secret_access_key()
    plant("aws.access-key-pair-csv", csv_secret, "deleted", key_id=csv_id, metadata={"account_id": account_id(csv_id)})
    sa = k.gcp_service_account()
    plant("gcp.service-account-key", sa.private_key, "deleted", key_id=sa.private_key_id,
          metadata={"client_email": sa.client_email, "project_id": sa.project_id, "private_key_id": sa.private_key_id})
    rsa = plant("private-key.pem", k.private_key_pem("rsa"), "deleted")
    xai = plant("xai.api-key", k.xai(), "deleted")
    replicate = plant("replicate.api-token", k.replicate(), "deleted")
    perplexity = plant("perplexity.api-key", k.perplexity(), "deleted")
    elevenlabs = plant("elevenlabs.api-key", k.elevenlabs(), "deleted")
    eleven_legacy = plant("elevenlabs.legacy-api-key", k.elevenlabs_legacy(), "deleted")
    gl_pat = plant("gitlab.pat", k.gitlab_pat(), "deleted")
    gl_trigger = plant("gitlab.pipeline-trigger-token", k.gitlab_trigger_token(), "deleted")
    bedrock_short = plant("aws.bedrock-short-term-api-key", k.aws_bedrock_short_term(), "deleted")
    commits["deleted"] = repo.commit("Add admin tooling", {
        "admin/keys.py": (f'OPENAI_ADMIN_KEY = "{admin}"\nANTHROPIC_ADMIN_KEY = "{ant_admin}"\n'
                          f'GOOGLE_API_KEY = "{aq}"\nXAI_API_KEY = "{xai}"\n'),
        "admin/credentials.csv": f"User name,Password,Access key ID,Secret access key\nci-bot,,{csv_id},{csv_secret}\n",
        "admin/sa.json": sa.json_text,
        "admin/id_rsa": rsa,
        "admin/.env.local": (f"REPLICATE_API_TOKEN={replicate}\nPERPLEXITY_API_KEY={perplexity}\n"
                             f"ELEVENLABS_API_KEY={elevenlabs}\n"),
        "admin/tts.sh": (f'curl https://api.elevenlabs.io/v1/voices -H "xi-api-key: {eleven_legacy}"\n'
                         f"export GITLAB_TOKEN={gl_pat}\n"
                         f"curl -X POST -F token={gl_trigger} -F ref=main https://gitlab.com/api/v4/projects/1/trigger/pipeline\n"
                         f"export AWS_BEARER_TOKEN_BEDROCK={bedrock_short}\n"),
    }, author=("Sam Ops", "sam@example.com"))
    repo.commit("Remove hardcoded credentials", delete=["admin/keys.py", "admin/credentials.csv", "admin/sa.json",
                                                       "admin/id_rsa", "admin/.env.local", "admin/tts.sh"],
                author=("Sam Ops", "sam@example.com"))

    # -- base64 in a Kubernetes Secret (kept) -------------------------------------------------
    k8s_openai = plant("openai.project-key", k.openai_project(), "base64")
    k8s_mistral = plant("mistral.api-key", k.mistral(), "base64")
    k8s_id, k8s_secret = k.aws_access_key_id(), k.aws_secret_access_key()
    plant("aws.secret-access-key", k8s_secret, "base64", key_id=k8s_id, metadata={"account_id": account_id(k8s_id)})
    k8s_sa = k.gcp_service_account()
    plant("gcp.service-account-key", k8s_sa.private_key, "base64", key_id=k8s_sa.private_key_id,
          metadata={"client_email": k8s_sa.client_email, "project_id": k8s_sa.project_id,
                    "private_key_id": k8s_sa.private_key_id})
    commits["base64"] = repo.commit("Add k8s secrets", {"k8s/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: agent\ntype: Opaque\ndata:\n"
        f"  OPENAI_API_KEY: {b64(k8s_openai)}\n  MISTRAL_API_KEY: {b64(k8s_mistral)}\n"
        f"  AWS_ACCESS_KEY_ID: {b64(k8s_id)}\n  AWS_SECRET_ACCESS_KEY: {b64(k8s_secret)}\n"
        f"  gcp.json: {b64(k8s_sa.json_text)}\n"
        f"  PLACEHOLDER: {b64(decoy('sk-proj-' + 'X' * 74 + 'T3BlbkFJ' + 'X' * 74))}\n")})

    # -- an unmerged side branch --------------------------------------------------------------
    repo.git("checkout", "-q", "-b", "experiment")
    legacy = plant("openai.legacy-key", k.openai_legacy(), "branch")
    org = plant("huggingface.org-token", "api_org_" + k.chars(34, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), "branch")
    ghp = plant("github.classic-pat", k.github(), "branch")
    gho = plant("github.oauth-token", k.github("gho_"), "branch")
    openrouter = plant("openrouter.api-key", k.openrouter(), "branch")
    together = plant("together.api-key", k.together(), "branch")
    pc_legacy = plant("pinecone.legacy-api-key", k.uuid4(), "branch")
    ls_sk = plant("langsmith.service-key", k.langsmith("sk"), "branch")
    wandb_v1 = plant("wandb.api-key-v1", k.wandb_v1(), "branch")
    netrc = plant("wandb.netrc", k.wandb(), "branch")
    ec = plant("private-key.pem", k.private_key_pem("ec"), "branch")
    commits["branch"] = repo.commit("Try other providers", {
        "experiments/providers.yaml": (f"openai_legacy: {legacy}\nhf_org: {org}\nopenrouter: {openrouter}\n"
                                       f"together: {together}\nlangsmith: {ls_sk}\n"),
        "experiments/sync.sh": f"export GITHUB_TOKEN={ghp}\nexport GH_OAUTH={gho}\nexport WANDB_API_KEY={wandb_v1}\n",
        "experiments/pinecone_old.py": f'import pinecone\npinecone.init(api_key="{pc_legacy}", environment="us-west1-gcp")\n',
        "experiments/.netrc": f"machine api.wandb.ai\n  login user\n  password {netrc}\n",
        "experiments/tls.yaml": "tls:\n  key: |\n" + "".join(f"    {line}\n" for line in ec.splitlines()),
    }, author=("Robin Research", "robin@example.com"))
    repo.git("checkout", "-q", "main")

    # -- a branch merged with `-s ours`: in history, never in the tree ------------------------
    repo.git("checkout", "-q", "-b", "spike")
    gitlab_deploy = plant("gitlab.deploy-token", k.gitlab_deploy_token(), "merged-ours")
    runner = plant("gitlab.runner-token", k.gitlab_runner_token(), "merged-ours")
    registration = plant("gitlab.runner-registration-token", k.gitlab_runner_registration(), "merged-ours")
    user = plant("slack.user-token", k.slack_user(), "merged-ours")
    app = plant("slack.app-token", k.slack_app(), "merged-ours")
    rk = plant("stripe.restricted-key", k.stripe("rk"), "merged-ours")
    ghu, ghs, ghr = k.github("ghu_"), k.github("ghs_"), k.github("ghr_", 70)
    plant("github.user-to-server-token", ghu, "merged-ours")
    plant("github.installation-token", ghs, "merged-ours")
    plant("github.refresh-token", ghr, "merged-ours")
    azure_endpoint = plant("azure.openai-key-endpoint-before", k.azure_openai_hex(), "merged-ours",
                           metadata={"endpoint": "acme-eu.openai.azure.com"})
    deepseek_named = plant("deepseek.api-key", k.deepseek(), "merged-ours")
    azure_after = plant("azure.openai-key-endpoint-after", k.azure_openai_hex(), "merged-ours",
                        metadata={"endpoint": "acme-us.openai.azure.com"})
    bearer_after = plant("generic.ai-bearer-token-host-after", "ck_" + k.chars(40), "merged-ours",
                         metadata={"api_host": "api.cerebras.ai"})
    neutral = decoy(k.chars(40))  # key-shaped, but under no provider's name
    fal_header = plant("fal.api-key-header", k.fal(), "merged-ours")
    plants[-1].key_id = fal_header.split(":")[0]
    slack_refresh = plant("slack.refresh-token", k.slack_refresh(), "merged-ours")
    slack_rotating_bot = plant("slack.rotating-bot-token", k.slack_rotating("xoxb"), "merged-ours")
    slack_config = plant("slack.rotating-user-token", k.slack_rotating("xoxp"), "merged-ours")
    slack_client = plant("slack.client-token", k.slack_client(), "merged-ours")
    slack_cookie = plant("slack.session-cookie", k.slack_cookie(), "merged-ours")
    gw_mistral = plant("mistral.api-key-config", k.mistral(), "merged-ours")
    gw_cohere = plant("cohere.api-key-config", k.cohere(), "merged-ours")
    gw_together = plant("together.api-key-config", k.together_legacy(), "merged-ours")
    gw_azure = plant("azure.api-key-config", k.azure_openai_hex(), "merged-ours")
    cfg_pinecone = plant("pinecone.api-key-config", k.uuid4(), "merged-ours")
    cfg_wandb = plant("wandb.api-key-config", k.wandb(), "merged-ours")
    example_xai = plant("xai.api-key", k.xai(), "merged-ours")
    commits["merged-ours"] = repo.commit("Spike: CI credentials", {
        "spike/litellm/config.yaml": (
            "model_list:\n"
            f"  - model_name: large\n    litellm_params:\n      model: mistral/mistral-large-latest\n"
            f"      api_key: {gw_mistral}\n"
            f"  - model_name: rerank\n    litellm_params:\n      model: cohere/rerank-english-v3.0\n"
            f"      api_key: {gw_cohere}\n"
            f"  - model_name: llama\n    litellm_params:\n      model: together_ai/meta-llama/Llama-3-70b\n"
            f"      api_key: {gw_together}\n"
            f"  - model_name: gpt-4o\n    litellm_params:\n      model: azure/gpt-4o\n"
            f"      api_version: 2024-10-21\n      api_key: {gw_azure}\n"
            f"  - model_name: fake\n    litellm_params:\n      model: mistral/mistral-small\n"
            f"      api_key: {decoy('Fake9' + k.mixed_case(27))}\n"),
        "spike/settings.toml": (f'[pinecone]\nenvironment = "us-west1-gcp"\napi_key = "{cfg_pinecone}"\n\n'
                                f'[wandb]\nentity = "acme"\napi_key = "{cfg_wandb}"\n'),
        "spike/.env.example": (f"XAI_API_KEY={example_xai}\n"
                               f"OPENAI_API_KEY={decoy('sk-proj-' + k.chars(30, 'abcdefghijkmnopqrstuvwxyz') + '_test_' + k.chars(38) + 'T3BlbkFJ' + k.chars(74))}\n"
                               f"SLACK_BOT_TOKEN={decoy('xoxb-' + k.chars(12, '0123456789') + '-' + k.chars(13, '0123456789') + '-' + 'abc123XY' * 3)}\n"),
        "spike/slack_rotation.json": json.dumps({"ok": True, "token": slack_config, "refresh_token": slack_refresh,
                                                 "bot": {"access_token": slack_rotating_bot}}, indent=2),
        "spike/slack-mcp.env": (f"SLACK_MCP_XOXC_TOKEN={slack_client}\nSLACK_MCP_XOXD_TOKEN={slack_cookie}\n"
                                f"SLACK_MCP_XOXD_EXAMPLE={decoy('xoxd-' + 'A' * 120)}\n"),
        "spike/ci.env": (f"CI_DEPLOY_PASSWORD={gitlab_deploy}\nRUNNER_TOKEN={runner}\nREG={registration}\n"
                         f"SLACK_USER_TOKEN={user}\nSLACK_APP_TOKEN={app}\nSTRIPE_RESTRICTED={rk}\n"
                         f"GH_USER={ghu}\nGH_INSTALL={ghs}\nGH_REFRESH={ghr}\nDEEPSEEK_API_KEY={deepseek_named}\n"),
        "spike/azure.py": (f'openai.api_base = "https://acme-eu.openai.azure.com/"\n'
                           f'openai.api_key = "{azure_endpoint}"\nNOTE = "{neutral}"\n'),
        "spike/flux.sh": f'curl -X POST https://fal.run/fal-ai/flux/dev \\\n  -H "Authorization: Key {fal_header}"\n',
        "spike/chat.py": f'llm = AzureChatOpenAI(openai_api_key="{azure_after}", azure_endpoint="https://acme-us.openai.azure.com")\n',
        "spike/client.js": (f'const headers = {{"Authorization": "Bearer {bearer_after}"}};\n'
                            'const client = new Client({headers, baseURL: "https://api.cerebras.ai/v1"});\n'),
    }, author=("Robin Research", "robin@example.com"))
    repo.git("checkout", "-q", "main")
    repo.clock += 3600
    repo.git("merge", "-q", "-s", "ours", "--no-edit", "spike")
    repo.git("branch", "-q", "-D", "spike")

    # -- messages, other encodings, escapes around the key, AWS pairs and session credentials --
    in_subject = plant("openai.project-key", k.openai_project(), "message")
    in_tag = plant("huggingface.user-token", k.huggingface(), "tag")
    utf16 = plant("anthropic.api-key", k.anthropic(), "encodings")
    utf16_be = plant("github.classic-pat", k.github(), "encodings")
    utf32 = plant("groq.api-key", k.groq(), "encodings")
    percent_google = plant("google.api-key", k.google_api_key(), "encodings")
    ansi_google = plant("google.api-key", k.google_api_key(), "encodings")
    ansi_hf = plant("huggingface.user-token", k.huggingface(), "encodings")
    html_mistral = plant("mistral.api-key", k.mistral(), "encodings")
    json_id, json_secret = k.aws_access_key_id(), k.aws_secret_access_key()
    while "/" not in json_secret:
        json_secret = k.aws_secret_access_key()
    plant("aws.secret-access-key", json_secret, "encodings", key_id=json_id, metadata={"account_id": account_id(json_id)})
    uri_id, uri_secret = k.aws_access_key_id(), k.aws_secret_access_key()
    while "/" not in uri_secret or "+" not in uri_secret:
        uri_secret = k.aws_secret_access_key()
    plant("aws.access-key-pair-uri", uri_secret, "encodings", key_id=uri_id, metadata={"account_id": account_id(uri_id)})
    tf_id, tf_secret = k.aws_access_key_id(), k.aws_secret_access_key()
    plant("aws.terraform-state-secret", tf_secret, "encodings", key_id=tf_id, metadata={"account_id": account_id(tf_id)})
    session_id, session_secret = "ASIA" + k.chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), k.aws_secret_access_key()
    plant("aws.session-credentials", session_secret, "encodings", key_id=session_id,
          metadata={"account_id": account_id(session_id)})
    session_token = decoy("IQoJb3JpZ2luX2VjE" + k.chars(300))
    quoted = uri_secret.replace("/", "%2F").replace("+", "%2B")
    tfstate = {"version": 4, "resources": [{"mode": "managed", "type": "aws_iam_access_key", "name": "ci",
               "instances": [{"attributes": {"create_date": "2025-01-01T00:00:00Z", "encrypted_secret": None,
                                             "id": tf_id, "pgp_key": None, "secret": tf_secret,
                                             "status": "Active", "user": "ci"}}]}]}
    output = {"cells": [{"cell_type": "code", "metadata": {}, "source": ["!python check_keys.py\n"],
                         "outputs": [{"output_type": "stream", "name": "stdout",
                                      "text": [f"\x1b[1;32m{ansi_google}\x1b[0m ok\n"]}]}],
              "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    commits["encodings"] = repo.commit("Add Windows and web tooling", {
        "win/setup.ps1": f'$env:ANTHROPIC_API_KEY = "{utf16}"\r\n'.encode("utf-16"),
        "win/token.txt": f"GITHUB_TOKEN={utf16_be}\n".encode("utf-16-be"),
        "win/groq.reg": f'"GROQ_API_KEY"="{utf32}"\n'.encode("utf-32"),
        "win/placeholder.ps1": f'$env:OPENAI_API_KEY = "{decoy("sk-proj-your-api-key-here")}"\r\n'.encode("utf-16-le"),
        "web/redirect.txt": f"https://accounts.example.com/login?next=%2Fmaps%3Fkey%3D{percent_google}%26z%3D3\n",
        "web/snippet.html": (f'<div data-config="{{&quot;mistral_api_key&quot;: &quot;{html_mistral}&quot;}}"></div>\n'
                             f'<p>key=&quot;{decoy("AIzaSy" + "X" * 33)}&quot;</p>\n'),
        "notebooks/check.ipynb": json.dumps(output, indent=1),
        "logs/run.log": f"\x1b[1;32mtoken: {ansi_hf}\x1b[0m\n",
        "config/escaped.json": json.dumps({"aws": json.dumps({"aws_access_key_id": json_id,
                                                               "aws_secret_access_key": json_secret})}).replace("/", "\\/"),
        "airflow/.env": (f"AIRFLOW_CONN_AWS_DEFAULT=aws://{uri_id}:{quoted}@/?region_name=eu-west-1\n"
                         "AIRFLOW_CONN_DOCS=aws://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY@\n"),
        "infra/terraform.tfstate": json.dumps(tfstate, indent=2),
        "ops/assume.sh": (f"export AWS_ACCESS_KEY_ID={session_id}\nexport AWS_SECRET_ACCESS_KEY={session_secret}\n"
                          f"export AWS_SESSION_TOKEN={session_token}\n"),
    })
    commits["message"] = repo.commit(f"Debug auth\n\nworks with OPENAI_API_KEY={in_subject} locally")
    repo.git("tag", "-a", "v0.9", "-m", f"Release 0.9\n\nsmoke-test token {in_tag}")
    commits["tag"] = commits["message"]

    # -- archives, binary files with embedded text, a file over the chunk size, documentation keys --
    zipped = plant("openai.project-key", k.openai_project(), "containers")
    nested = plant("anthropic.api-key", k.anthropic(), "containers")
    gzipped = plant("xai.api-key", k.xai(), "containers")
    in_sqlite = plant("groq.api-key", k.groq(), "containers")
    pickled = plant("github.classic-pat", k.github(), "containers")
    straddling = plant("openai.project-key", k.openai_project(), "containers")
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        data = f"anthropic:\n  api_key: {nested}\n".encode()
        info = tarfile.TarInfo("deploy/secrets.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config/.env", f"OPENAI_API_KEY={zipped}\n")
        archive.writestr("config/.env.example", f"OPENAI_API_KEY={decoy('sk-proj-' + 'x' * 74 + 'T3BlbkFJ' + 'x' * 74)}\n")
        archive.writestr("deploy/bundle.tar.gz", inner.getvalue())
    database = path.parent / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE settings (name TEXT, value TEXT)")
        connection.executemany("INSERT INTO settings VALUES (?, ?)", [
            ("GROQ_API_KEY", in_sqlite), ("AWS_SECRET_ACCESS_KEY", decoy("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))])
    connection.close()
    big = bytearray(b"-- nothing to see on this line of the dump\n" * (17 * 1024 * 1024 // 43))
    line = f"\nINSERT INTO settings VALUES ('OPENAI_API_KEY', '{straddling}');\n".encode()
    at = CHUNK_SIZE - 40
    big[at: at + len(line)] = line
    slack_docs = {"ok": True, "access_token": decoy("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"),
                  "token_type": "bot", "bot_user_id": "U0KRQLJ9H"}
    commits["containers"] = repo.commit("Add bundles, fixtures and the dump", {
        "dist/bundle.zip": bundle.getvalue(),
        "backup/env.gz": gzip.compress(f"XAI_API_KEY={gzipped}\n".encode()),
        "fixtures/app.db": database.read_bytes(),
        "fixtures/client.pkl": pickle.dumps({"token": pickled, "retries": 3}, protocol=4),
        "dumps/settings.sql": bytes(big),
        "docs/slack-oauth.json": json.dumps(slack_docs, indent=2),
        "docs/fake-values.env": (f"ANTHROPIC_API_KEY={decoy('sk-ant-api03-' + k.chars(40) + 'abcdefgh' + k.chars(45) + 'AA')}\n"
                                 f"XAI_API_KEY={decoy('xai-' + k.chars(30) + 'REDACTED' + k.chars(42))}\n"),
    })
    return Corpus(str(repo.path), plants, decoys, commits)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("git-home")
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        patch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
        return build(tmp_path_factory.mktemp("catalogue") / "repo")


def test_every_rule_is_planted(corpus):
    from keysweep.scanner.rules import load_rules

    assert {p.rule_id for p in corpus.plants} == {r.id for r in load_rules()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_recall_is_one_and_no_decoy_is_reported(run, corpus, backend):
    result = run("scan", "git", corpus.path, "--no-store", "--format", "json", "--engine", backend)
    assert result.code == 1, result
    findings = {f["secret_sha256"]: f for f in result.json()}

    expected = {sha(p.secret): p for p in corpus.plants}
    missed = [f"{p.rule_id} ({p.where})" for digest, p in expected.items() if digest not in findings]
    assert not missed, f"recall {1 - len(missed) / len(expected):.3f}; missed: {missed}"

    decoys = {sha(d) for d in corpus.decoys}
    flagged = [f"{f['rule_id']} {f['redacted']}" for digest, f in findings.items() if digest in decoys]
    assert not flagged, f"decoys reported: {flagged}"
    extra = [f"{f['rule_id']} {f['redacted']}" for digest, f in findings.items() if digest not in expected]
    assert not extra, f"findings that were not planted: {extra}"

    for digest, p in expected.items():
        finding = findings[digest]
        assert finding["rule_id"] == p.rule_id, (p.rule_id, finding["rule_id"])
        if p.key_id:
            assert finding["key_id"] == p.key_id, p.rule_id
        for name, value in p.metadata.items():
            assert (finding["metadata"] or {}).get(name) == value, (p.rule_id, name)
        if p.where in corpus.commits:
            assert corpus.commits[p.where] in {o["commit"] for o in finding["occurrences"]}, (p.rule_id, p.where)
    session = next(f for f in findings.values() if f["rule_id"] == "aws.session-credentials")
    assert session["long_lived"] is False and session["key_id"].startswith("ASIA")
    for where in ("message", "tag"):
        sources = {o["source"] for p in corpus.plants if p.where == where for o in findings[sha(p.secret)]["occurrences"]}
        assert sources == {"git-message"}, where
    account = next(f for f in findings.values() if f["rule_id"] == "aws.access-key-id")
    assert account["account_id"] == account_id(account["key_id"])
