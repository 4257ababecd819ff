"""The secret-store sources need an optional extra each; without it the command says which, in one
line, and exits 2 (never a traceback)."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.parametrize("args,module,extra", [
    (("scan", "kubernetes"), "kubernetes", "keysweep[kubernetes]"),
    (("scan", "vault", "--addr", "http://127.0.0.1:1"), "hvac", "keysweep[vault]"),
    (("scan", "gcp", "--project", "p"), "google.cloud.secretmanager", "keysweep[gcp]"),
    (("scan", "azure", "--vault-url", "https://acme.vault.azure.net"), "azure.keyvault.secrets", "keysweep[azure]"),
    (("scan", "azure", "--vault-url", "https://acme.vault.azure.net"), "azure.identity", "keysweep[azure]"),
])
def test_a_missing_extra_is_named_in_one_line(run, tmp_path, monkeypatch, args, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # `import` raises ImportError, as when not installed
    if module == "google.cloud.secretmanager":
        monkeypatch.setitem(sys.modules, "google.cloud", None)
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.delenv("KEYSWEEP_AZURE_KEYVAULT_TOKEN", raising=False)
    result = run(*args, "--db", tmp_path / "s.db")
    assert result.code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1 and f"pip install '{extra}'" in result.stderr, result
