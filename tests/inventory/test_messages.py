"""Messages: values quoted and escaped, secret shapes redacted anywhere, hints name what is expected."""

from __future__ import annotations

import pytest

from llmfleet.inventory.problems import Problem
from llmfleet.inventory.secrets import looks_like_literal_secret, redact

SECRETS = {
    "anthropic": "sk-ant-api03-" + "Ab1_" * 10,
    "openai": "sk-proj-" + "Zx9" * 10,
    "aws access key": "AKIA" + "ABCDEFGHIJKLMNOP",
    "aws secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "google": "AIza" + "Sy" * 17 + "x1",
    "hugging face": "hf_" + "a1B2" * 9,
    "github": "ghp_" + "c3D4" * 9,
    "github fine-grained": "github_pat_" + "11AAAA" * 5,
    "private key": "-----BEGIN OPENSSH PRIVATE KEY-----",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_shapes_are_found_anywhere_in_a_string_and_redacted(kind: str) -> None:
    secret = SECRETS[kind]
    glued = f"key={secret};" if kind == "aws secret" else f"x{secret}y"  # a bare 40-character secret needs a separator
    text = f"model note: the key {secret} was pasted here, and again glued: {glued}"
    assert looks_like_literal_secret(text), kind
    assert secret not in redact(text) and "<redacted" in redact(text)


def test_url_password_is_redacted_but_the_user_kept() -> None:
    assert redact("see postgresql://litellm:hunter2@db:5432/x") == "see postgresql://litellm:<redacted>@db:5432/x"


def test_ordinary_values_are_not_redacted() -> None:
    for text in ("qwen2.5:14b-instruct", "claude-3-5-haiku-20241022", "a" * 64, "0123456789abcdef0123456789abcdef01234567"):
        assert redact(text) == text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("\x1b[2J\x1b[32mALL CHECKS PASSED", "\\x1b[2J\\x1b[32mALL CHECKS PASSED"), ("a\u2029b", "a\\u2029b"), ("a\rb", "a\\rb")],
)
def test_control_characters_never_reach_the_terminal(raw: str, shown: str) -> None:
    line = str(Problem(("models", 0, "upstream"), f"'{raw}' is bad", file="f.yml", line=3))
    assert shown in line and raw not in line


def test_a_secret_used_as_a_key_name_is_redacted_in_the_message(problems_of, base) -> None:
    secret = SECRETS["anthropic"]
    base["gateway"][secret] = 1
    found = problems_of(base)
    assert found and all(secret not in p for p in found)
    assert any("<redacted: an Anthropic API key>" in p for p in found)


def test_a_secret_in_a_plain_field_is_refused_without_echo(problems_of, base) -> None:
    secret = SECRETS["aws secret"]
    base["hosts"][1]["gpu"]["model"] = f"RTX {secret}"
    found = problems_of(base)
    assert found and all(secret not in p for p in found)


def test_a_bad_server_url_gives_one_error_that_names_https(problems_of, base) -> None:
    base["mesh"]["server_url"] = "http://hs.example.net"
    found = [p for p in problems_of(base) if "server_url" in p]
    assert len(found) == 1 and "https://" in found[0], found


def test_aws_key_ids_run_together_are_found_and_both_redacted(problems_of, base) -> None:
    """Found by the fuzz test: ``x`` + two key ids back to back in the fleet name was echoed in the
    'is not valid' message (the key-id pattern wanted a boundary after its 20 characters)."""
    key = SECRETS["aws access key"]
    text = f"x{key}{key}"
    assert looks_like_literal_secret(text) == "an AWS access key id"
    assert key not in redact(text)
    base["fleet"] = text
    found = problems_of(base)
    assert found and all(key not in p for p in found)
