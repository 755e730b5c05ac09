"""Generate a tiny, deterministic, random-weight GGUF model for tests.

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

    python -m fleetlab.tiny_gguf OUT.gguf [--seed N] [--template qwen2.5-tools|chatml]
                                              [--eager-tools]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "CHATML_TEMPLATE",
    "EAGER_TOOL_CALL_BIAS",
    "QWEN25_TOOLS_TEMPLATE",
    "SPECIAL_TOKENS",
    "TEMPLATES",
    "build_vocab",
    "byte_tokens",
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
        template: ``"qwen2.5-tools"`` (tool-capable) or ``"chatml"`` (no tool support).
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
    import gguf  # imported lazily: only needed to generate the model

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

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("llmfleet-tiny-random")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(n_vocab)
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(10000.0)
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

    writer.add_tensor("token_embd.weight", token_embd)
    for i in range(N_LAYER):
        p = f"blk.{i}"
        writer.add_tensor(f"{p}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{p}.attn_q.weight", normal((N_EMBD, N_EMBD), 0.05))
        writer.add_tensor(f"{p}.attn_k.weight", normal((N_EMBD, N_EMBD), 0.05))
        writer.add_tensor(f"{p}.attn_v.weight", normal((N_EMBD, N_EMBD), 0.05))
        writer.add_tensor(f"{p}.attn_output.weight", normal((N_EMBD, N_EMBD), 0.05))
        writer.add_tensor(f"{p}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{p}.ffn_gate.weight", normal((N_FF, N_EMBD), 0.05))
        writer.add_tensor(f"{p}.ffn_up.weight", normal((N_FF, N_EMBD), 0.05))
        writer.add_tensor(f"{p}.ffn_down.weight", normal((N_EMBD, N_FF), 0.05))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m fleetlab.tiny_gguf OUT.gguf``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output .gguf path")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed (default 0)")
    parser.add_argument("--template", choices=sorted(TEMPLATES), default="qwen2.5-tools")
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
