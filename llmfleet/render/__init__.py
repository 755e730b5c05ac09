"""Render an inventory into per-host files, write them atomically, and validate them.

The API used by the CLI, deploy and the checks::

    render_fleet(inv) -> list[RenderedFile]      # pure, deterministic, sorted by relpath
    write_tree(files, out_dir) -> None           # atomic swap + MANIFEST.json
    diff_tree(files, out_dir) -> str             # unified diff, "" when current
    validate_rendered(files, inv) -> list[Problem]
    parse_args_file(content) -> list[str]        # a rendered one-argument-per-line file
    gateway_secrets(inv) -> list[EnvVar]          # the secret variables the gateway's .env must define
    mesh_ports(inv, host) -> list[int]           # the backend ports on the mesh (what the firewall guards)
"""

from llmfleet.render.context import (
    gateway_secrets,
    key_carries_tags,
    mesh_ports,
    modelfile_name,
    node_tags,
    parse_args_file,
    tailscale_firewall_mode,
)
from llmfleet.render.engine import RenderedFile, RenderError, render_fleet
from llmfleet.render.output import MANIFEST, OutputError, diff_tree, write_tree
from llmfleet.render.validate import validate_rendered

__all__ = [
    "MANIFEST",
    "OutputError",
    "RenderError",
    "RenderedFile",
    "diff_tree",
    "gateway_secrets",
    "key_carries_tags",
    "mesh_ports",
    "modelfile_name",
    "node_tags",
    "parse_args_file",
    "render_fleet",
    "tailscale_firewall_mode",
    "validate_rendered",
    "write_tree",
]
