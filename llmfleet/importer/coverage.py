"""Every key of a LiteLLM config either lands in the draft or becomes a finding that says why not.

The draft builder maps what it understands into typed inventory fields; this module takes the
rest: keys LiteLLM reads in that place go into the inventory's passthrough settings (checked by
the same generated key table the inventory's rules use), and everything else is a finding naming
the key, what happens to it and why (LiteLLM ignores it there, it belongs in another section,
llmfleet has no field for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmfleet.importer.findings import Finding, make
from llmfleet.importer.source import YamlSource
from llmfleet.inventory.litellm_keys import ENTRY_SECTIONS, MANAGED_KEYS, SETTINGS_SECTIONS, KeyTable
from llmfleet.inventory.problems import FieldPath, format_path

#: Top-level sections the draft understands (model_list and the three settings sections).
MAPPED_SECTIONS = frozenset({"model_list", "include", *SETTINGS_SECTIONS})
#: Sections LiteLLM reads that have no inventory counterpart, and what the user loses.
UNMAPPED_SECTIONS = {
    "environment_variables": "LiteLLM sets these variables in its own process; the inventory keeps secrets as env:/file: references "
    "and deploy writes them to the gateway's .env",
    "credential_list": "credentials are stored in LiteLLM's database; reference them with models[].credential_name",
}


@dataclass
class Coverage:
    """What is left of a config after the typed mapping: passthrough settings and findings."""

    config: YamlSource
    table: KeyTable
    findings: list[Finding] = field(default_factory=list)

    def drop(self, path: FieldPath, problem: str, fix: str, code: str = "dropped-setting") -> None:
        """Record a key that does not reach the draft."""
        self.findings.append(make(code, self.config.file, self.config.line(path), path, problem, fix))

    # ----- model_list entries -----
    def entry_rest(self, path: FieldPath, section: str, values: dict[str, Any], consumed: set[str]) -> dict[str, Any]:
        """The keys of one entry's ``litellm_params``/``model_info`` not consumed by typed fields: passthrough or findings."""
        kept: dict[str, Any] = {}
        for key, value in values.items():
            key = str(key)
            if key in consumed:
                continue
            where = (*path, section, key)
            problem = self.table.key_problem(section, key, ENTRY_SECTIONS)
            if problem is not None:
                misplaced = "belongs under" in problem
                self.drop(
                    where,
                    f"{format_path(where)}: {problem}, so LiteLLM ignores it; it is not in the draft.",
                    "move it where LiteLLM reads it (the draft's models[] has the field or the "
                    f"{'model_info' if section == 'litellm_params' else 'litellm_params'} passthrough for it)"
                    if misplaced
                    else "remove it, or correct the key.",
                    code="misplaced-key" if misplaced else "unknown-key",
                )
                continue
            if key in MANAGED_KEYS[section]:
                self.drop(
                    where,
                    f"{format_path(where)} has no place in the draft: llmfleet sets '{key}' itself.",
                    "compare the rendered value with this one before deploying.",
                )
                continue
            kept[key] = value
        return kept

    # ----- settings sections -----
    def settings_rest(self, name: str, consumed: set[str]) -> dict[str, Any]:
        """The keys of a settings section not consumed by typed fields: passthrough or findings."""
        values = self.config.data.get(name)
        if not isinstance(values, dict):
            return {}
        kept: dict[str, Any] = {}
        for key, value in values.items():
            key = str(key)
            if key in consumed:
                continue
            where = (name, key)
            problem = self.table.key_problem(name, key)
            if problem is not None:
                misplaced = "belongs under" in problem
                self.drop(
                    where,
                    f"{problem}: LiteLLM ignores it here (the setting never took effect), so the draft leaves it out.",
                    "if you meant it, set it where LiteLLM reads it (in the inventory: the gateway field or the "
                    "gateway.<section> passthrough of that section)"
                    if misplaced
                    else "remove it, or correct the key.",
                    code="misplaced-key" if misplaced else "unknown-key",
                )
                continue
            if key in MANAGED_KEYS[name]:
                self.drop(
                    where,
                    f"{name}.{key} = {value!r} is not carried over: llmfleet derives '{key}' from the inventory.",
                    "check the rendered value; set the matching inventory field if it should differ.",
                )
                continue
            kept[key] = value
        return kept

    def sections(self) -> None:
        """Findings for top-level sections the draft does not carry."""
        for name in self.config.data:
            name = str(name)
            if name in MAPPED_SECTIONS:
                continue
            problem = self.table.section_problem(name)
            if problem is not None:
                self.drop(
                    (name,),
                    f"{problem}: LiteLLM ignores the whole block, so nothing in it ever took effect; the draft leaves it out.",
                    "remove it, or move its keys to the section where LiteLLM reads them.",
                    code="unknown-key",
                )
            else:
                why = UNMAPPED_SECTIONS.get(name, "the inventory has no field for this section yet")
                self.drop(
                    (name,),
                    f"the '{name}' section is not in the draft: {why}.",
                    "recreate what it does by hand after deploying (or keep running it outside llmfleet).",
                )
