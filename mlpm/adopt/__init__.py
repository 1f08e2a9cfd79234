"""``mlpm adopt``: turn an existing codebase's hub calls into locked mlpm dependencies.

- ``sites.py``: what is found (``CallSite``) and what it maps to (``Mapping``)
- ``scan.py``: reads Python files and notebooks with ``ast`` (nothing imported or run)
- ``mapping.py``: call site -> package and version, through the registry's upstreams index
- ``report.py``: the operation behind ``mlpm adopt`` and its table
- ``write.py``: ``--write``, the exact mappings added to the manifest and locked
- ``rewrite.py``: ``--rewrite``, call sites changed to ``mlpm.load`` / ``mlpm.path``
- ``caches.py``: ``--caches``, the hubs' caches imported into mlpm's store
"""
