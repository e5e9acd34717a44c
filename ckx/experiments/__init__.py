"""The experiments layer: experiment records and points, statistics, ``ckr.zip`` archives
and the HTML dashboard. It may import ``ckx.core``, ``ckx.artifacts``, ``ckx.engine``, ``ckx.compat`` and
``ckx.programs`` (running a program once).
"""
