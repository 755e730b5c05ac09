"""Generate tiny, deterministic GGUF models for tests: random-weight ones, and one scripted tool caller.

(:func:`write_scripted_tools_gguf` writes the scripted one: hand-set weights that answer llmfleet's
tool-probe questions with fixed tool calls — a test fixture for the real Ollama's and LiteLLM's tool
path, not a stand-in for either. Everything below describes the random-weight models.)

No model weights can be downloaded on our CI machines, but ``llama-server`` still needs a real
model file to serve.  This module writes a ~0.5 MB llama-architecture GGUF:

* 2 layers, ``n_embd`` 64, 4 heads, context 8192, all tensors F32;
* a byte-level BPE vocabulary (the 256 GPT-2 byte tokens, a few merges) plus ChatML special
  tokens (``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``) and Qwen2.5's tool tokens
  (``<tool_call>``, ``</tool_call>``, ``<tool_response>``, ``</tool_response>``);
* a Qwen2.5-style chat template that supports ``tools`` (llama.cpp detects tool support from it),
  or, with ``template="chatml"``, a plain ChatML template without tool support.

Weights are drawn from :class:`numpy.random.Generator` seeded with ``seed``, so the same seed
always yields the same bytes.  The residual stream carries a constant "bias" feature (dimension 0
of every token embedding) that the output matrix uses to *suppress* tokens: byte tokens >= 0x80
(a lone UTF-8 continuation byte makes ``llama-server`` emit invalid UTF-8, i.e. HTTP 500),
control bytes other than newline, and all special tokens except ``<|im_end|>``, which gets a small
positive bias so that free generation ends after a few dozen tokens.  Grammar-constrained
sampling can still force suppressed tokens (e.g. ``<tool_call>``), so whatever tool-call output
the model produces is due to the server's constraints, not to the model.

CLI::

    python -m fleetlab.tiny_gguf OUT.gguf [--seed N] [--template qwen2.5-tools|chatml|scripted-tools]
                                              [--eager-tools]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import gguf

__all__ = [
    "CHATML_GO_TEMPLATE",
    "CHATML_TEMPLATE",
    "EAGER_TOOL_CALL_BIAS",
    "QWEN25_TOOLS_GO_TEMPLATE",
    "QWEN25_TOOLS_TEMPLATE",
    "SCRIPTED_CALLS",
    "SCRIPTED_TEMPLATE",
    "SPECIAL_TOKENS",
    "TEMPLATES",
    "build_vocab",
    "byte_tokens",
    "scripted_call_text",
    "write_scripted_tools_gguf",
    "write_tiny_gguf",
]

# Qwen2.5-Instruct's chat template (tool-capable, Hermes-style <tool_call> JSON blocks).
QWEN25_TOOLS_TEMPLATE = """\
{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n\
You are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and \
arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \
\\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or \
(message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# Plain ChatML: no tools, so llama.cpp reports no tool-call support for it.
CHATML_TEMPLATE = """\
{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

TEMPLATES: dict[str, str] = {"qwen2.5-tools": QWEN25_TOOLS_TEMPLATE, "chatml": CHATML_TEMPLATE}
#: ``template`` value of :func:`write_tiny_gguf` that writes the scripted tool-call model instead.
SCRIPTED_TEMPLATE = "scripted-tools"

# (text, gguf token type): 3 = CONTROL (not rendered in output), 4 = USER_DEFINED (rendered as text,
# matched whole in prompts), as in Qwen2.5's own GGUF files.
SPECIAL_TOKENS: tuple[tuple[str, int], ...] = (
    ("<|endoftext|>", 3),
    ("<|im_start|>", 3),
    ("<|im_end|>", 3),
    ("<tool_call>", 4),
    ("</tool_call>", 4),
    ("<tool_response>", 4),
    ("</tool_response>", 4),
)

# A few byte-level BPE merges (GPT-2 byte->unicode spelling; "Ġ" is a space).
_MERGES: tuple[tuple[str, str], ...] = (
    ("Ġ", "t"),
    ("Ġ", "a"),
    ("h", "e"),
    ("i", "n"),
    ("r", "e"),
    ("o", "n"),
    ("Ġt", "he"),
    ("e", "r"),
)

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_FF = 128
N_CTX = 8192

# Column 0 of the output matrix multiplies the constant "bias" feature (~6.3 after RMS norm).
_SUPPRESS = -4.0  # about -25 logits: never sampled unless a grammar forces it
_EOS_BIAS = 0.35  # about +2.2 logits for <|im_end|>: free text ends after ~30 tokens
_QUOTE_BIAS = 0.5  # about +3 logits for '"': JSON strings close after ~20 characters
EAGER_TOOL_CALL_BIAS = 6.0  # about +30 logits for <tool_call> after "\n": chosen when allowed


def byte_tokens() -> list[str]:
    """Return the 256 GPT-2 byte-level token strings, indexed by byte value."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return [mapping[b] for b in range(256)]


def build_vocab() -> tuple[list[str], list[int], list[str]]:
    """Return ``(tokens, token_types, merges)`` for the tiny byte-level BPE vocabulary.

    Ids 0-255 are the byte tokens (id == byte value), then the merged tokens, then
    :data:`SPECIAL_TOKENS`.
    """
    tokens = byte_tokens()
    types = [1] * len(tokens)
    merges: list[str] = []
    for left, right in _MERGES:
        merges.append(f"{left} {right}")
        if left + right not in tokens:
            tokens.append(left + right)
            types.append(1)
    for text, ttype in SPECIAL_TOKENS:
        tokens.append(text)
        types.append(ttype)
    return tokens, types, merges


def _output_bias(tokens: list[str]) -> np.ndarray:
    bias = np.zeros(len(tokens), dtype=np.float32)
    for b in range(256):
        if b >= 0x7F or (b < 0x20 and b != 0x0A):
            bias[b] = _SUPPRESS
    for text, _ in SPECIAL_TOKENS:
        bias[tokens.index(text)] = _EOS_BIAS if text == "<|im_end|>" else _SUPPRESS
    bias[ord('"')] = _QUOTE_BIAS
    return bias


def _new_writer(
    out: Path, name: str, tokens: list[str], types: list[int], merges: list[str], chat_template: str, rope_dim: int, rope_base: float
) -> gguf.GGUFWriter:
    """A GGUF writer with the header every lab model shares (llama architecture, F32, the ChatML
    byte-level vocabulary): only the name, chat template and RoPE settings differ. Key order is
    part of the file's bytes, which are pinned by sha256: keep it."""
    import gguf  # imported lazily: only needed to generate the model

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(rope_dim)
    writer.add_rope_freq_base(rope_base)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template)
    return writer


def _write_tensors(
    writer: gguf.GGUFWriter,
    out: Path,
    token_embd: np.ndarray,
    layer: Callable[[int], tuple[np.ndarray, ...]],
    output: np.ndarray,
) -> Path:
    """Add the llama tensors every lab model has, in GGUF order, write the file and return ``out``.

    ``layer(i)`` gives block ``i``'s (q, k, v, attention output, ffn gate, ffn up, ffn down) weights; it
    is called once per block, in order (the random model draws them then). Norms are all ones."""
    names = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    writer.add_tensor("token_embd.weight", token_embd)
    for i in range(N_LAYER):
        weights = dict(zip(names, layer(i), strict=True))
        p = f"blk.{i}"
        writer.add_tensor(f"{p}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in names[:4]:
            writer.add_tensor(f"{p}.{name}.weight", weights[name])
        writer.add_tensor(f"{p}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in names[4:]:
            writer.add_tensor(f"{p}.{name}.weight", weights[name])
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    return out


def write_tiny_gguf(
    path: str | Path,
    *,
    seed: int = 0,
    template: str = "qwen2.5-tools",
    chat_template: str | None = None,
    tool_call_bias: float | None = None,
) -> Path:
    """Write the tiny random-weight GGUF model to ``path`` and return it.

    Args:
        path: output file (parent directories are created).
        seed: RNG seed; the same seed and template always give byte-identical files.
        template: ``"qwen2.5-tools"`` (tool-capable) or ``"chatml"`` (no tool support), or
            ``"scripted-tools"``: the scripted tool-call fixture (:func:`write_scripted_tools_gguf`).
        chat_template: a Jinja chat template that overrides ``template``.
        tool_call_bias: by default ``<tool_call>`` is suppressed, so the model never starts a tool
            call by itself (any tool call is then the server's grammar at work).  A value here
            (one unit is about 5 logits) boosts ``<tool_call>`` after a newline:
            ``EAGER_TOOL_CALL_BIAS`` makes the model answer ``<tool_call>\n`` at once, so with
            ``tools`` the server's grammar takes over and yields well-formed ``tool_calls``;
            without tools it repeats ``<tool_call>\n`` until ``max_tokens``.

    Returns:
        The output path.
    """
    if template == SCRIPTED_TEMPLATE:
        if chat_template is not None or tool_call_bias is not None:
            raise ValueError("the scripted model takes no chat_template or tool_call_bias")
        return write_scripted_tools_gguf(path, seed=seed)

    if chat_template is None:
        try:
            chat_template = TEMPLATES[template]
        except KeyError:
            raise ValueError(f"unknown template {template!r}; choose from {sorted(TEMPLATES)}") from None
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)

    tokens, types, merges = build_vocab()
    n_vocab = len(tokens)
    rng = np.random.Generator(np.random.PCG64(seed))

    def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    # Token embeddings: a large constant feature in dimension 0 (the "bias" feature), two
    # "previous token" features and random content in the others.  The next token depends mostly
    # on the current one (attention weights are small), so these features steer what follows:
    #   dim 1 (set on <tool_call>)  -> "\n" next, never <tool_call> again: "<tool_call>\n" is the
    #                                  Qwen/Hermes call marker that llama.cpp's grammar waits for;
    #   dim 2 (set on </tool_call>) -> <|im_end|> next: one call, then the turn ends;
    #   dim 3 (set on "\n")         -> <tool_call> next when ``tool_call_bias`` is given (the
    #                                  generation prompt ends with "\n"; a JSON string cannot
    #                                  contain a raw newline, so arguments are not flooded);
    #   dim 4 (set on "}")           -> </tool_call> next, also only with ``tool_call_bias``
    #                                  (else a grammar spells "</tool_call>" out in bytes and
    #                                  dim 2 never fires).
    tool_open, tool_close = tokens.index("<tool_call>"), tokens.index("</tool_call>")
    newline, im_end = ord("\n"), tokens.index("<|im_end|>")
    token_embd = normal((n_vocab, N_EMBD), 1.0)
    token_embd[:, 0:5] = 0.0
    token_embd[:, 0] = 10.0
    token_embd[tool_open, 1] = 10.0
    token_embd[tool_close, 2] = 10.0
    token_embd[newline, 3] = 10.0
    token_embd[ord("}"), 4] = 10.0
    output = normal((n_vocab, N_EMBD), 0.3)
    output[:, 0:5] = 0.0
    output[:, 0] = _output_bias(tokens)
    output[newline, 1] = 3.0
    output[tool_open, 1] = -6.0
    output[im_end, 2] = 3.0
    if tool_call_bias is not None:
        output[tool_open, 3] = tool_call_bias
        output[tool_close, 0] = 0.0
        output[tool_close, 4] = 3.0

    writer = _new_writer(out, "llmfleet-tiny-random", tokens, types, merges, chat_template, N_EMBD // N_HEAD, 10000.0)

    shapes = [(N_EMBD, N_EMBD)] * 4 + [(N_FF, N_EMBD), (N_FF, N_EMBD), (N_EMBD, N_FF)]

    def layer(_: int) -> tuple[np.ndarray, ...]:  # drawn in this order: the seed's bytes depend on it
        return tuple(normal(shape, 0.05) for shape in shapes)

    return _write_tensors(writer, out, token_embd, layer, output)


# ----------------------------------------------------------------------------- scripted tool model
#: The arguments the scripted model calls each tool with: those of llmfleet's tool probe
#: (:data:`llmfleet.checks.toolcall.SCENARIOS`), valid against the tool's JSON schema.
SCRIPTED_CALLS: dict[str, dict[str, object]] = {
    "get_weather": {"city": "Tokyo", "days": 3},
    "convert_currency": {"amount": 250, "from_currency": "USD", "to_currency": "EUR"},
}
#: Prompt words (after a space) that steer the scripted model: the probe's questions contain exactly one.
SCRIPTED_TRIGGERS: dict[str, str] = {" Tokyo": "get_weather", " dollars": "convert_currency", " France": "answer"}
#: What the scripted model answers without a tool: after " France", else (any other chat).
SCRIPTED_ANSWER = "Paris."
SCRIPTED_DEFAULT_ANSWER = ("Hello", " from", " a", " scripted", " test", " model.")

# Ollama's Go prompt template for Qwen2.5 / Hermes-style tool calls (Modelfile TEMPLATE): with `.Tools`, so
# Ollama accepts `tools` and parses what follows `<tool_call>` (the prefix it reads from `.ToolCalls`).
QWEN25_TOOLS_GO_TEMPLATE = """\
{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

# Ollama's Go prompt template without tools (plain ChatML): Ollama refuses `tools` for a model with it.
CHATML_GO_TEMPLATE = """\
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


def _bytes_to_token(text: str) -> str:
    """``text`` in the GPT-2 byte-level spelling a BPE vocabulary stores (" " -> "Ġ", "\\n" -> "Ċ")."""
    table = byte_tokens()
    return "".join(table[b] for b in text.encode("utf-8"))


def scripted_call_text(name: str) -> str:
    """The text the scripted model writes between ``<tool_call>`` and ``</tool_call>`` for ``name``."""
    import json

    return "\n" + json.dumps({"name": name, "arguments": SCRIPTED_CALLS[name]}) + "\n"


def _scripted_vocab() -> tuple[list[str], list[int], list[str], dict[str, int]]:
    """Bytes, the merges that spell each trigger word, special tokens, then the scripted output tokens."""
    tokens = byte_tokens()
    merges: list[str] = []
    for word in SCRIPTED_TRIGGERS:
        spelled = _bytes_to_token(word)
        for end in range(2, len(spelled) + 1):
            left, right = spelled[: end - 1], spelled[end - 1]
            merges.append(f"{left} {right}")
            if spelled[:end] not in tokens:
                tokens.append(spelled[:end])
    types = [1] * len(tokens)
    for text, ttype in SPECIAL_TOKENS:
        tokens.append(text)
        types.append(ttype)
    outputs = [scripted_call_text(n) for n in SCRIPTED_CALLS] + [SCRIPTED_ANSWER, *SCRIPTED_DEFAULT_ANSWER]
    for text in outputs:
        tokens.append(_bytes_to_token(text))
        types.append(1)
    ids = {t: i for i, t in enumerate(tokens)}
    return tokens, types, merges, ids


def write_scripted_tools_gguf(path: str | Path, *, seed: int = 0) -> Path:
    """Write the *scripted* tiny GGUF: a test fixture whose greedy answers are fixed by construction.

    This is a test fixture for the transport of tool calls (Ollama's template-based tool-call parser,
    LiteLLM's routes, llmfleet's tool probe), not a stand-in for Ollama or for a real model: Ollama,
    LiteLLM and llama-server that serve it are the real programs. Its weights are set by hand, not
    drawn (``seed`` is accepted for the recipe interface and changes nothing: there is no randomness):

    * the FFN and layer 1 are zero, so each next token is a function of the current token's embedding
      plus one attention read-out (a bigram chain with a memory of the prompt);
    * attention (head 0 of layer 0, in the last head dimensions where RoPE at base 1e6 barely rotates)
      looks back for one of :data:`SCRIPTED_TRIGGERS` (whole tokens, made by BPE merges) and writes
      which one it found into the residual stream;
    * after the prompt's last token (``\\n`` of ``<|im_start|>assistant\\n``) the model writes
      ``<tool_call>`` + ``\\n{"name": "get_weather", "arguments": {"city": "Tokyo", "days": 3}}\\n`` +
      ``</tool_call>`` + ``<|im_end|>`` after " Tokyo"; the ``convert_currency`` call of
      :data:`SCRIPTED_CALLS` after " dollars"; ``Paris.`` after " France"; otherwise
      ``Hello from a scripted test model.`` — each call body is one vocabulary token.

    Those are the answers llmfleet's tool probe asks for (``lookup``, ``choose``, ``no_tool``). The
    embedded Jinja chat template is Qwen2.5's (tools); Ollama needs a Go TEMPLATE with ``.Tools``
    (:data:`QWEN25_TOOLS_GO_TEMPLATE`) to accept tools and parse the call.
    """

    del seed  # no randomness: the same file for every seed
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tokens, types, merges, ids = _scripted_vocab()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD
    # Residual dimensions: 0 bias (every token), 1.. one "this token" feature per chain token,
    # KEY marks a trigger token, TRIG+k is trigger k's identity, SEEN+k "trigger k is in the prompt".
    key_dim, trig0, seen0 = 40, 44, 50
    feat = 8.0
    nl, im_end = ord("\n"), tokens.index("<|im_end|>")
    tool_open, tool_close = tokens.index("<tool_call>"), tokens.index("</tool_call>")
    call_ids = [ids[_bytes_to_token(scripted_call_text(n))] for n in SCRIPTED_CALLS]
    answer = ids[_bytes_to_token(SCRIPTED_ANSWER)]
    default = [ids[_bytes_to_token(t)] for t in SCRIPTED_DEFAULT_ANSWER]
    chain_tokens = [nl, tool_open, *call_ids, tool_close, answer, *default]
    feature = {tok: 1 + i for i, tok in enumerate(chain_tokens)}
    assert max(feature.values()) < key_dim
    trigger_ids = [ids[_bytes_to_token(w)] for w in SCRIPTED_TRIGGERS]

    token_embd = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    token_embd[:, 0] = feat
    for tok, dim in feature.items():
        token_embd[tok, dim] = feat
    for k, tok in enumerate(trigger_ids):
        token_embd[tok, key_dim] = feat
        token_embd[tok, trig0 + k] = feat

    # Attention, layer 0 head 0: the query (from the bias) meets the key of a trigger token in the head's
    # last dimension (score ~25-37: the one trigger takes all the weight); the value carries its identity.
    zeros = np.zeros((N_EMBD, N_EMBD), dtype=np.float32)
    wq, wk, wv, wo = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    qk = head_dim - 1
    wq[qk, 0] = 2.0
    wk[qk, key_dim] = 2.0
    for k in range(len(trigger_ids)):
        wv[k, trig0 + k] = 1.0
        wo[seen0 + k, k] = 1.75  # normalized identity ~4.6 -> ~8 in the residual

    # Output: W[next, feature(current)] spells each chain; the branches get a smaller weight that the
    # trigger that was seen lifts (plus a bias offset, so a trigger alone never picks a token).
    output = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    step, branch, lift, offset = 8.0, 6.0, 6.0, -5.0

    def chain(cur: int, nxt: int) -> None:
        output[nxt, feature[cur]] = step

    output[im_end, 0] = 2.0  # after any token off the script: end the turn
    seen = {what: seen0 + k for k, what in enumerate(SCRIPTED_TRIGGERS.values())}
    # "\n" (end of the generation prompt): default answer, or <tool_call> / the answer when a trigger was seen.
    output[default[0], feature[nl]] = 5.0
    for tok in (tool_open, answer):
        output[tok, feature[nl]] = branch
        output[tok, 0] = offset
    for name in SCRIPTED_CALLS:
        output[tool_open, seen[name]] = lift
    output[answer, seen["answer"]] = lift
    # <tool_call>: the body of the call whose trigger was seen.
    for name, tok in zip(SCRIPTED_CALLS, call_ids, strict=True):
        output[tok, feature[tool_open]] = branch
        output[tok, 0] = offset
        output[tok, seen[name]] = lift
        chain(tok, tool_close)
    chain(tool_close, im_end)
    chain(answer, im_end)
    for cur, nxt in zip(default, [*default[1:], im_end], strict=True):
        chain(cur, nxt)

    assert im_end == tokens.index("<|im_end|>")
    writer = _new_writer(out, "llmfleet-tiny-scripted-tools", tokens, types, merges, QWEN25_TOOLS_TEMPLATE, head_dim, 1e6)

    ffn = (
        np.zeros((N_FF, N_EMBD), dtype=np.float32),
        np.zeros((N_FF, N_EMBD), dtype=np.float32),
        np.zeros((N_EMBD, N_FF), dtype=np.float32),
    )
    return _write_tensors(writer, out, token_embd, lambda i: ((wq, wk, wv, wo) if i == 0 else (zeros,) * 4) + ffn, output)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m fleetlab.tiny_gguf OUT.gguf``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output .gguf path")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed (default 0)")
    parser.add_argument("--template", choices=sorted([*TEMPLATES, SCRIPTED_TEMPLATE]), default="qwen2.5-tools")
    parser.add_argument(
        "--eager-tools",
        action="store_true",
        help="make the model open <tool_call> at once (default: <tool_call> is suppressed)",
    )
    args = parser.parse_args(argv)
    out = write_tiny_gguf(
        args.out,
        seed=args.seed,
        template=args.template,
        tool_call_bias=EAGER_TOOL_CALL_BIAS if args.eager_tools else None,
    )
    print(f"{out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
