"""Custom pyinfra facts for what pyinfra has no fact for (tailscale, headscale, ollama, nvidia-smi, HTTP).

Every fact here is safe to gather before its program is installed (``requires_command`` makes
pyinfra return the default then) and tolerates a program that is installed but not running
(its command ends in ``|| true``: no output means the default), so the first run's prepare
phase never fails on them. None of them ever reads a secret.
"""
