"""pyinfra deploy file of a whole fleet (the logic is :mod:`llmfleet.deploy.site`).

pyinfra inventories/<fleet>.py deploy/site.py            # from the repository root
"""

from llmfleet.deploy.site import apply

apply()
