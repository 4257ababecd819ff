"""Shell completion is click's own: `_KEYSWEEP_COMPLETE=bash_source|zsh_source|fish_source keysweep`
prints the script to load (docs/usage.md), and the installed console script answers completions."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("shell, marker", [("bash", "_keysweep_completion()"), ("zsh", "#compdef keysweep"),
                                           ("fish", "function _keysweep_completion")])
def test_the_completion_script_for_each_shell(run_process, shell, marker):
    result = run_process(env={"_KEYSWEEP_COMPLETE": f"{shell}_source"})
    assert result.code == 0, result
    assert marker in result.stdout


def test_commands_and_options_complete(run_process):
    commands = run_process(env={"_KEYSWEEP_COMPLETE": "bash_complete", "COMP_WORDS": "keysweep ba", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["plain,baseline"]
    options = run_process(env={"_KEYSWEEP_COMPLETE": "bash_complete", "COMP_WORDS": "keysweep scan git --ra",
                               "COMP_CWORD": "3"})
    assert options.stdout.split() == ["plain,--range"]
