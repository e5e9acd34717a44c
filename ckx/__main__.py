import sys

from ckx.app.cli import main

sys.exit(main())
