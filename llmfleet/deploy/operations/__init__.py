"""Custom pyinfra operations (3.x generator style) for what pyinfra's own operations lack.

Each one reads facts and yields no command when the host is already as wanted (calling
``host.noop`` with a sentence saying so), so a second run changes nothing. None of them puts a
secret into a command string, a diff or an operation argument that pyinfra prints.
"""
