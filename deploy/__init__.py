"""pyinfra deploys of an llmfleet fleet: gateway, GPU backends and the Headscale mesh.

Run from the repository root::

    pyinfra inventories/<fleet>.py deploy/site.py

The pyinfra inventory (``inventories/<fleet>.py``, built by ``inventories/_adapter.py``) carries
only plain host data; deploy code reads the typed inventory back through :mod:`deploy.context`
and puts every rendered file (:func:`llmfleet.render.render_fleet`) where it says.

Layout: :mod:`deploy.site` (order of everything), :mod:`deploy.common`, :mod:`deploy.mesh`,
:mod:`deploy.gpu`, :mod:`deploy.gateway` (the ``@deploy`` functions), :mod:`deploy.operations`
(custom ``@operation`` s), :mod:`deploy.facts` (custom facts), :mod:`deploy.remote` (small
stdlib-only Python helpers uploaded to every host).
"""
