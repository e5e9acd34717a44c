import sys

from ckx.cli import main

sys.exit(main())
