"""The lab: where llmfleet is tried for real on this machine (not part of the shipped package).

* booted hosts: :mod:`fleetlab.hosts` boots ``inventories/lab.yml`` as real Debian machines
  (systemd-nspawn, one network namespace each: :mod:`fleetlab.netns`, :mod:`fleetlab.image`,
  :mod:`fleetlab.sshaccess`), :mod:`fleetlab.mirror` serves their air-gapped artifacts (apt repository
  :mod:`fleetlab.aptrepo`, wheels :mod:`fleetlab.wheelhouse`), :mod:`fleetlab.deployrun` runs pyinfra on
  them and :mod:`fleetlab.demo` is ``make demo`` / ``make lab-up``;
* stand-ins for what cannot run here (:mod:`fleetlab.standins`, named as such);
* the local loopback lab (:mod:`fleetlab.local`, ``make demo-local``): real LiteLLM in front of real
  llama-servers on this machine, serving tiny GGUFs (:mod:`fleetlab.tiny_gguf`);
* test fakes: :mod:`fleetlab.faulty_backend`;
* :mod:`fleetlab.programs`: the real programs tests and demos run (LiteLLM proxy, Docker Compose,
  llama-server), as ``tools/`` installs them into the program cache;
* plumbing shared by the above: :mod:`fleetlab.processes`, :mod:`fleetlab.daemons`, :mod:`fleetlab.relay`,
  :mod:`fleetlab.ledger`, :mod:`fleetlab.cachebuild`.
"""

from fleetlab.programs import (
    ProgramMissing,
    cache_dir,
    compose_bin,
    litellm_bin,
    llama_server_bin,
)

__all__ = ["ProgramMissing", "cache_dir", "compose_bin", "litellm_bin", "llama_server_bin"]
