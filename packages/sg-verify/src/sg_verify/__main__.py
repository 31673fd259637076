"""``python -m sg_verify``: the ``sg-verify`` command."""

import sys

from sg_verify.cli import main

sys.exit(main())
