"""``python -m spkrunbook``: the same command line as ``spkrunbook``."""

import sys

from .cli import main

sys.exit(main())
