"""``python -m mango_pl.loop ...``: the same as ``mango-pl loop ...`` (without importing Lightning)."""

import sys

from mango_pl.loop.command import main

sys.exit(main())
