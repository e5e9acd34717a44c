"""``python -m odbench``."""

from .main import main

raise SystemExit(main())
