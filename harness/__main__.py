"""``python -m harness`` is ``scm-harness``."""

from harness.cli import main

raise SystemExit(main())
