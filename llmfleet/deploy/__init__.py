"""pyinfra deploys of an llmfleet fleet: gateway, GPU backends and the Headscale mesh.

Run from an installed llmfleet, or as plain pyinfra from the repository root::

    llmfleet deploy inventories/<fleet>.yml [--dry] [--env ENV | --overlay FILE] [pyinfra arguments]
    pyinfra inventories/<fleet>.py deploy/site.py

The pyinfra inventory (``inventories/<fleet>.py``, built by ``llmfleet/deploy/inventory.py``) carries
only plain host data; deploy code reads the typed inventory back through :mod:`llmfleet.deploy.context`
and puts every rendered file (:func:`llmfleet.render.render_fleet`) where it says.

Layout: :mod:`llmfleet.deploy.site` (order of everything), :mod:`llmfleet.deploy.common`, :mod:`llmfleet.deploy.mesh`,
:mod:`llmfleet.deploy.gpu`, :mod:`llmfleet.deploy.gateway` (the ``@deploy`` functions), :mod:`llmfleet.deploy.operations`
(custom ``@operation`` s), :mod:`llmfleet.deploy.facts` (custom facts), :mod:`llmfleet.deploy.remote` (small
stdlib-only Python helpers uploaded to every host), :mod:`llmfleet.deploy.runner` (``llmfleet deploy``).
"""
