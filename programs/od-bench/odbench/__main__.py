"""``python -m odbench``."""

from .main import main

# the guard matters: multiprocessing's spawn start method re-imports this module in every
# pre-processing worker (as __mp_main__), which must not start another benchmark
if __name__ == "__main__":
    raise SystemExit(main())
