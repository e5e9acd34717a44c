"""Running MLCFlow's own script repositories (mlcommons/mlperf-automations) as they are.

A compatibility layer kept apart from the kernel: nothing in ``ckx/core``, ``ckx/artifacts``
or ``ckx/engine`` imports it, and it is loaded only when a registered repository is an
MLCFlow repository (:func:`ckx.compat.mlcrepos.is_mlcflow_repo`; :func:`ckx.compat.repo.activate`
registers the dialect), through the engine's content-dialect seam
(:mod:`ckx.engine.dialects`). Layer: above the engine, below experiments and the app.

Modules:

* :mod:`ckx.compat.mlcdialect` - the MLCFlow dialect the engine asks per entry;
* :mod:`ckx.compat.runtime` - the steps of one MLCFlow script (hooks, run script, versions);
* :mod:`ckx.compat.automation`, :mod:`ckx.compat.access` - ``i['automation']`` and
  ``mlc.access``;
* :mod:`ckx.compat.mlc` - the ``mlc`` module hooks import; :mod:`ckx.compat.imports` - the
  hook import path (``mlc``, ``utils``, script folders) for the length of a hook call;
* :mod:`ckx.compat.envrules`, :mod:`ckx.compat.deps` - MLCFlow's env and dep semantics;
* :mod:`ckx.compat.runscript` - ``tmp-run.sh``, ``tmp-run-env.out``, run-script variants;
* :mod:`ckx.engine.osinfo` - ``os_info``; :mod:`ckx.compat.hookreads` - readable inputs;
* :mod:`ckx.compat.offline` - mirrors for what scripts fetch, network failures explained.

docs/mlcflow.md is the user's page.
"""
