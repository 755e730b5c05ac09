"""The structural check of Ollama's Go templates, and (``real``) Go's own parser agreeing with it case by case."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetlab.tiny_gguf import CHATML_GO_TEMPLATE, QWEN25_TOOLS_GO_TEMPLATE
from llmfleet.inventory.gotemplate import go_template_problem, uses_tools
from llmfleet.versions import DEFAULT_OLLAMA_VERSION

GOOD = [
    QWEN25_TOOLS_GO_TEMPLATE,
    CHATML_GO_TEMPLATE,
    "plain text {not an action} }} {a: [b]}",
    "{{ .Prompt }}",
    "{{- .System -}}",
    "{{/* a comment with }} inside */}}x",
    "{{- /* trimmed comment */ -}}",
    '{{ "a }} string" }}{{ `raw }}\n"string` }}',
    "{{ if and .Tools (gt (len .Messages) 1) }}t{{ else if .System }}s{{ else }}n{{ end }}",
    "{{ range $i, $m := .Messages }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $m.Content }}{{ break }}{{ end }}",
    "{{ with .Tools }}{{ json . }}{{ else }}none{{ end }}",
    '{{ define "x" }}X{{ end }}{{ template "x" }}{{ block "y" . }}Y{{ end }}',
    "{{ currentDate }} {{ yesterdayDate }} {{ printf \"%d\" 3 }} {{ -3 }} {{ 'a' }}",
    '{{ .Function.Name | printf "%q" }}',
    "{{ range .Messages }}\n{{ .Role\n}}\n{{ end }}",
]
BAD = [
    ("{{ .Prompt ", "unclosed action"),
    ("{{ if .Tools }}tools", "never closed"),
    ("{{ range .Messages }}{{ if .X }}{{ end }}", "never closed"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ('{{ define "x" }}{{ else }}{{ end }}', "unexpected {{else}}"),
    ("{{ break }}", "outside {{range}}"),
    ("{{ if .X }}{{ continue }}{{ end }}", "outside {{range}}"),
    ("{{ toJson .Tools }}", 'function "toJson" not defined'),
    ("{{ .Tools | tojson }}", 'function "tojson" not defined'),
    ("{{ }}", "missing value"),
    ('{{ "open }}', "unclosed action"),
    ("{{ `open }}", "unclosed action"),
    ("{{ (len .Messages }}", "unclosed left paren"),
    ("{{ len .Messages) }}", "unexpected right paren"),
    ("{{/* never closed }}", "unclosed comment"),
    ("{{/* closed */ .X }}", "comment ends before closing delimiter"),
]


@pytest.mark.parametrize("template", GOOD)
def test_templates_go_parses_are_accepted(template: str) -> None:
    assert go_template_problem(template) is None


@pytest.mark.parametrize(("template", "message"), BAD)
def test_templates_go_refuses_are_refused_with_the_reason(template: str, message: str) -> None:
    problem = go_template_problem(template)
    assert problem is not None and message in problem, problem


def test_uses_tools() -> None:
    assert uses_tools(QWEN25_TOOLS_GO_TEMPLATE) and not uses_tools(CHATML_GO_TEMPLATE)
    assert not uses_tools("{{ .ToolsX }}")


def _ollama_templates() -> list[Path]:
    go = shutil.which("go")
    if go is None:
        return []
    modcache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, timeout=60).stdout.strip()
    return sorted((Path(modcache) / "github.com" / "ollama" / f"ollama@v{DEFAULT_OLLAMA_VERSION}" / "template").glob("*.gotmpl"))


GO_PARSER = """package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

func main() {
	var cases []string
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	stub := func(args ...any) string { return "" }
	funcs := template.FuncMap{"json": stub, "currentDate": stub, "yesterdayDate": stub, "toTypeScriptType": stub}
	out := []string{}
	for _, c := range cases {
		_, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(c)
		if err != nil {
			out = append(out, fmt.Sprint(err))
		} else {
			out = append(out, "")
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
"""


@pytest.mark.real
def test_gos_own_parser_agrees_on_every_case(tmp_path: Path) -> None:
    """Go's text/template (with Ollama's function names) accepts exactly the templates the check accepts.

    The corpus: the cases above and Ollama's own built-in templates (from the Go module cache that
    ``make go-programs`` fills), which must all pass.
    """
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain (the polyglot machine has one: /usr/local/go/bin/go)")
    builtin = _ollama_templates()
    cases = GOOD + [t for t, _ in BAD] + [p.read_text() for p in builtin]
    (tmp_path / "main.go").write_text(GO_PARSER)
    run = subprocess.run(
        [go, "run", "main.go"],
        cwd=tmp_path,
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "PATH": "/usr/local/go/bin:/usr/bin:/bin",
            "HOME": str(Path.home()),
            "GOFLAGS": "-mod=mod",
            "GO111MODULE": "off",
            "GOCACHE": str(Path.home() / ".cache" / "go-build"),
            "GOTOOLCHAIN": "local",
        },
    )
    assert run.returncode == 0, run.stderr
    go_errors = json.loads(run.stdout)
    for case, go_error in zip(cases, go_errors, strict=True):
        ours = go_template_problem(case)
        assert (ours is None) == (go_error == ""), f"Go says {go_error!r}, the check says {ours!r} for {case[:80]!r}"
