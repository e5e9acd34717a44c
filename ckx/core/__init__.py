"""The core layer: errors, the query grammar, CIDs, meta files, repositories, entries, the
index, schemas, versions, locks, output (UI, progress) and the per-call context.

It imports nothing from the other layers of ckx (``engine``, ``artifacts``, ``experiments``,
``app``); ``tests/kernel/test_layers.py`` checks it.
"""
