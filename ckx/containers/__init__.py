"""Containers: one more place a plan can run (``--docker``; CK's ``docker`` entries).

The host plans the request (no network), derives the image from what the plan needs, names it
by a digest of those inputs (an unchanged plan reuses it), and runs the very same request with
ckx inside, with the host's artefacts mounted read-only at the same paths and the outputs and
experiment repos read-write (docs/containers.md).

=================  ==========================================================================
``keys``           the ``--docker*`` request keys (rows of ``ckx/core/vocabulary.py``), CK's names
``docker``         the Docker Engine command line: checks, build, run, clean-up, clear errors
``source``         what goes into an image from the host: ckx's source and wheel, repos, pins
``image``          the image recipe: Dockerfile, build context, digest tag
``mlcmeta``        MLCFlow's ``docker:`` meta section and ``--docker_*`` inputs
``mounts``         what the container sees of the host: artefacts, outputs, repos, CA bundle
``launch``         ``--docker`` on ``ckx run`` and ``ckx benchmark``: plan, build/reuse, run
``base``           base images without a registry: debootstrap + ``docker import``
``entries``        CK's docker entries: a Dockerfile template and a meta
=================  ==========================================================================

A layer of its own above ``experiments`` (core < artifacts < engine < compat < experiments <
containers < app): it plans with the engine, reads program requests from ``experiments``,
and nothing below it imports it. The automations (``script``, ``program``, ``docker``) call it.
"""
