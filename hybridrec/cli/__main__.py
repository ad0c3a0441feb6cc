"""``python -m hybridrec.cli``: the ``hybridrec`` command."""
import sys

from . import main

sys.exit(main())
