"""testinfra host tests, run from the repository (the tests are :mod:`llmfleet.checks.testinfra.test_hosts`).

LLMFLEET_INVENTORY=inventories/lab.yml pytest checks/testinfra --hosts=ssh://root@gw1
pytest -p llmfleet.checks.testinfra.conftest --pyargs llmfleet.checks.testinfra ...   # from an installed llmfleet
"""

from llmfleet.checks.testinfra.test_hosts import *  # noqa: F403
