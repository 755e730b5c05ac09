"""pytest-testinfra host tests: what a deployed host must look like, derived from the inventory.

Run against deployed hosts (never imports pyinfra)::

    LLMFLEET_INVENTORY=inventories/lab.yml pytest checks/testinfra \\
        --hosts='ssh://root@10.231.1.2?ssh_config=.lab/ssh/ssh_config,ssh://root@10.231.2.2?ssh_config=.lab/ssh/ssh_config'

Each connected host is matched to the inventory host with the same address (or name).
"""
