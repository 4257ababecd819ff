"""The Hyperscan and pure-`regex` candidate finders give identical findings: same rule, secret,
offsets, line and key id, on a corpus of generated keys in varied files plus every rule's examples."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import random

import pytest

from keysweep.scanner.engine import Engine, hyperscan_available
from keysweep.scanner.rules import Rule, load_rules
from keysweep.testing.keygen import KeyGen

pytestmark = pytest.mark.skipif(not hyperscan_available(), reason="hyperscan wheel not installed here")

SEED = 20240601


def key_makers(keys: KeyGen) -> list:
    """Every KeyGen method that makes a text value with no arguments (valid and deliberately invalid)."""
    makers = []
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        if name.startswith("_") or name in ("chars", "mixed_case"):
            continue
        params = [p for p in inspect.signature(method).parameters.values() if p.default is inspect.Parameter.empty]
        if params:
            continue
        if isinstance(method(), str):
            makers.append(method)
    return makers


NAMES = ("OPENAI_API_KEY", "api_key", "token", "AWS_SECRET_ACCESS_KEY", "aws_secret_access_key",
         "secret_access-key", "SecretAccessKey", "aws_access_key_id", "password", "HF_TOKEN", "key",
         "ANTHROPIC_API_KEY", "Authorization", "GITHUB_TOKEN", "x", "MISTRAL_API_KEY", "client_secret")

TEMPLATES = (
    "{name}={value}", "{name} = '{value}'", 'export {name}="{value}"', "{name}: {value}",
    '"{name}": "{value}",', "  - {name}={value} # keysweep:allow", "{value}", "{value}{value}",
    "Bearer {value}", "curl -H 'Authorization: Bearer {value}' https://api.example.com",
    "{name}: {b64}", "echo {b64} | base64 -d", "<{name}>{value}</{name}>", "{name}={value};{name}2={value2}",
    "url = https://user:{value}@host/path", "{value}\\n", "'{value}'", "{name}\t=\t{value}",
)

FILLER = (
    "import os", "def main():", "    return 42", "# TODO: rotate", "", "x" * 300,
    "sha256 = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "uuid = 123e4567-e89b-12d3-a456-426614174000", "data = " + base64.b64encode(bytes(range(256))).decode(),
    "A" * 40, "hf_this_is_not_a_token", "sk-proj-", "AKIA", "ghp_", "-----BEGIN CERTIFICATE-----",
)


def build_corpus(rules) -> list[bytes]:
    rng = random.Random(SEED)
    keys = KeyGen(SEED)
    makers = key_makers(keys)
    corpus: list[bytes] = []
    for rule in rules:
        for example in rule.examples + rule.negative_examples:
            corpus.append(example.encode())
            corpus.append(("\n".join(rng.choice(FILLER) for _ in range(5)) + "\n" + example + "\n").encode())
    for _ in range(300):
        lines = []
        for _ in range(rng.randint(0, 40)):
            lines.append(rng.choice(FILLER))
        for _ in range(rng.randint(1, 5)):
            value, value2 = rng.choice(makers)(), rng.choice(makers)()
            if rng.random() < 0.1:
                value = value.upper() if rng.random() < 0.5 else value[:-1]
            line = rng.choice(TEMPLATES).format(name=rng.choice(NAMES), value=value, value2=value2,
                                                b64=base64.b64encode(f"{rng.choice(NAMES)}={value}".encode()).decode())
            lines.insert(rng.randint(0, len(lines)), line)
        if rng.random() < 0.1:  # one very long line: keys far apart, beyond any window
            lines.append(" ".join(rng.choice(makers)() + "x" * rng.randint(0, 5000) for _ in range(6)))
        newline = "\r\n" if rng.random() < 0.2 else "\n"
        text = newline.join(lines)
        if rng.random() < 0.5:
            text += newline
        corpus.append(text.encode())
    # Keys hard against each other and at the very edges of a file.
    corpus.append("".join(maker() for maker in makers).encode())
    corpus.append(" ".join(maker() for maker in makers).encode())
    corpus.append("\n".join(maker() for maker in makers).encode())
    # A large file with keys scattered 4-40 KiB apart.
    big = []
    for maker in makers:
        big.append("# " + "filler " * rng.randint(600, 6000))
        big.append(f"KEY = '{maker()}'")
    corpus.append("\n".join(big).encode())
    # A PEM private key and a JSON service-account file, if the generator has them.
    if hasattr(keys, "private_key_pem"):
        corpus.append(keys.private_key_pem().encode())
    return corpus


def signature(matches) -> list[tuple]:
    return [(m.rule_id, hashlib.sha256(m.secret.encode("utf-8", "surrogateescape")).hexdigest(), m.start, m.end,
             m.line, m.key_id) for m in matches]


@pytest.fixture(scope="module")
def engines():
    rules = load_rules()
    return rules, Engine(rules, backend="hyperscan"), Engine(rules, backend="regex")


def test_both_backends_are_what_they_say(engines):
    _, hs, rx = engines
    assert (hs.backend, rx.backend) == ("hyperscan", "regex")


def test_identical_findings_on_a_varied_corpus(engines):
    rules, hs, rx = engines
    corpus = build_corpus(rules)
    assert len(corpus) > 300
    total = 0
    differences = []
    matched_rules = set()
    for index, content in enumerate(corpus):
        by_hs, by_rx = signature(hs.scan(content)), signature(rx.scan(content))
        total += len(by_rx)
        matched_rules.update(s[0] for s in by_rx)
        if by_hs != by_rx:
            only_hs = sorted(set(by_hs) - set(by_rx))
            only_rx = sorted(set(by_rx) - set(by_hs))
            differences.append(f"file {index}: hyperscan only {[(d[0], d[2]) for d in only_hs]}, "
                               f"regex only {[(d[0], d[2]) for d in only_rx]}")
    assert not differences, f"{len(differences)} files differ:\n" + "\n".join(differences[:20])
    # The corpus exercises the engines: many rules match, many times.
    assert total > 500
    assert len(matched_rules) >= len(rules) // 2, sorted(matched_rules)


def keywordless_rules() -> list[Rule]:
    """A rule with a keyword and one without (always confirmed, over the whole content)."""
    plain = Rule(id="custom.tagged", name="tagged", provider="custom", description="d",
                 regex=r"\bTAG(?P<secret>[0-9a-f]{24})\b", keywords=("tag",))
    bare = Rule(id="custom.bare", name="bare", provider="custom", description="d",
                regex=r"\b(?P<secret>zq[0-9a-f]{30})\b")
    return [plain, bare]


def hex_value(length: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(b"0123456789abcdef") for _ in range(length))


def test_identical_findings_with_a_rule_without_keywords():
    """Without keywords a rule is confirmed on every content by both backends (the regex backend's
    prefilter selects it without looking)."""
    rules = load_rules() + keywordless_rules()
    hs, rx = Engine(rules, backend="hyperscan"), Engine(rules, backend="regex")
    corpus = build_corpus(rules)
    rng = random.Random(SEED)
    for index in rng.sample(range(len(corpus)), 40):
        corpus[index] += b"\nvalue = zq" + hex_value(30, index) + b"\n"
    found = 0
    for content in corpus:
        by_hs, by_rx = signature(hs.scan(content)), signature(rx.scan(content))
        assert by_hs == by_rx
        found += sum(1 for s in by_rx if s[0] == "custom.bare")
    assert found >= 40


AWS_MIXED_SEPARATORS = ("secret_access-key = {s}", "SECRET-ACCESS_KEY={s}", "secret-access_key: {s}")


def test_aws_secret_with_mixed_separators_is_found_by_both_or_neither(engines):
    """The regex backend skips a rule unless one of its keywords is in the content; Hyperscan runs the
    rule's own pattern. A rule whose regex can match without any keyword makes them disagree."""
    _, hs, rx = engines
    secret = KeyGen(SEED).aws_secret_access_key()
    for template in AWS_MIXED_SEPARATORS:
        content = template.format(s=secret).encode()
        assert signature(hs.scan(content)) == signature(rx.scan(content)), template


def test_cli_engine_option_gives_identical_json(run, make_repo, keys):
    repo = make_repo()
    files = {f"f{i}.txt": f"{'#' * i}\nKEY={maker()}\n" for i, maker in enumerate(key_makers(keys))}
    repo.commit("All kinds", files)
    outputs = []
    for backend in ("hyperscan", "regex"):
        result = run("scan", "git", repo.path, "--no-store", "--format", "json", "--engine", backend)
        assert result.code == 1, result
        outputs.append(sorted((f["id"], json.dumps(sorted((o["path"], o["line"]) for o in f["occurrences"])))
                              for f in result.json()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) >= 10


def test_hyperscan_database_is_compiled_once_then_loaded_from_the_cache(tmp_path, monkeypatch):
    """Compiling the catalogue takes seconds; every later start loads it from the cache dir."""
    import hyperscan

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rules = load_rules()
    Engine(rules, backend="hyperscan")
    assert list((tmp_path / "cache" / "keysweep").glob("hs-*.db"))

    class NotCompiled:
        def __init__(self, *_args, **_kwargs):
            pass

        def compile(self, *_args, **_kwargs):
            raise AssertionError("the cached database was not used")

    monkeypatch.setattr(hyperscan, "Database", NotCompiled)
    cached = Engine(rules, backend="hyperscan")
    key = KeyGen(SEED).github()
    content = f"x = 1\nGITHUB_TOKEN={key}\n".encode()
    assert signature(cached.scan(content)) == signature(Engine(rules, backend="regex").scan(content))
    assert [m.rule_id for m in cached.scan(content)] == ["github.classic-pat"]


def test_a_lazy_engine_compiles_on_first_use_and_is_the_engine_it_builds():
    """A sweep with nothing new never compiles its rules; once used, the lazy engine answers and
    counts exactly as an engine built at once, and the counters the scan stages reset or adjust
    (`timed_out`, `suppressed_inline`) land on the engine that scans, not on a stale copy."""
    from keysweep.models import Blob, ScanStats
    from keysweep.scanner.pipeline import match_blob
    from keysweep.scanner.session import LazyEngine

    rules = load_rules()
    lazy, eager = LazyEngine(rules), Engine(rules)
    assert not lazy.built
    corpus = build_corpus(rules)
    corpus.append(b"x = 1  # keysweep:allow\n" + corpus[0])
    for content in corpus:
        lazy_stats, eager_stats = ScanStats(), ScanStats()
        assert match_blob(lazy, Blob(content, "file", {}), lazy_stats) == \
            match_blob(eager, Blob(content, "file", {}), eager_stats)
        assert lazy_stats == eager_stats
    assert lazy.built and lazy.suppressed_inline == eager.suppressed_inline
    lazy.timed_out = ["acme.token"]
    lazy.suppressed_inline -= 1
    assert lazy.engine.timed_out == ["acme.token"] and lazy.engine.suppressed_inline == eager.suppressed_inline - 1
