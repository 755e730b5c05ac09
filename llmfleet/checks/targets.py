"""What to check, derived from the inventory: the gateway URL and each model's direct route."""

from __future__ import annotations

from dataclasses import dataclass

from llmfleet.inventory.model import WILDCARD_BINDS, Backend, Inventory, Model
from llmfleet.inventory.secrets import SecretError


class CannotRun(Exception):
    """The run cannot start or continue (exit 2): bad inventory, gateway unreachable, bad key."""


def gateway_url(inv: Inventory) -> str:
    """Where the operator reaches the gateway: its bind address, or the first gateway host's address."""
    gw = inv.gateway
    hosts = inv.hosts_with("gateway")
    if gw.bind in WILDCARD_BINDS:
        if not hosts:
            raise CannotRun("the inventory has no host with the gateway role; pass --gateway URL")
        host = hosts[0].address
    else:
        host = gw.bind
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{gw.port}"


@dataclass(frozen=True)
class ModelTarget:
    """One model to check: its inventory entry and, for a local model, how to reach its backend."""

    model: Model
    backend: Backend | None
    backend_base: str | None  # http://ip:port of the backend (local models)
    direct_chat_url: str | None  # OpenAI-compatible chat endpoint on the backend
    direct_model: str | None  # the model id the backend knows

    @property
    def name(self) -> str:
        """The public name."""
        return self.model.name


def model_targets(inv: Inventory, only: list[str] | None = None) -> list[ModelTarget]:
    """Targets for every model (or the ``only`` ones, in the given order); unknown names → CannotRun."""
    if only:
        unknown = [n for n in only if n not in inv.model_by_name]
        if unknown:
            known = ", ".join(m.name for m in inv.models)
            raise CannotRun(f"unknown model(s) {', '.join(unknown)}; the inventory has: {known}")
        models = [inv.model_by_name[n] for n in dict.fromkeys(only)]
    else:
        models = list(inv.models)
    out = []
    for m in models:
        backend = inv.backend_by_name.get(m.backend or "")
        if backend is None:
            out.append(ModelTarget(m, None, None, None, None))
            continue
        try:
            base = inv.backend_url(backend)
        except ValueError:
            base = None
        chat = None
        if base is not None:
            path = "/v1" if backend.kind == "ollama" else backend.api_path.rstrip("/")
            chat = f"{base}{path}/chat/completions"
        out.append(ModelTarget(m, backend, base, chat, m.upstream))
    return out


def backend_headers(backend: Backend | None) -> tuple[dict[str, str], str | None]:
    """Headers for a direct backend request, and why they could not be built (or ``None``)."""
    if backend is None or backend.api_key is None:
        return {}, None
    try:
        return {"authorization": f"Bearer {backend.api_key.resolve()}"}, None
    except SecretError as exc:
        return {}, str(exc)
