"""Benchmarks of provisioner against the alternatives: ``python -m bench`` (``make bench``).

Every measured program runs as a whole process of its own, as a user would run it; the
emulator runs in another. See ``bench/README.md`` for the cases, the method and the results.
"""
