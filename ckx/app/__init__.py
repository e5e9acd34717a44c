"""The application layer: the command line, ``access()`` and its one command table, help
texts and the generic actions every automation has. It may import every other layer;
nothing imports it (but ``ckx.access`` and ``python -m ckx``).
"""
