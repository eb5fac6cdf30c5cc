"""Execution: the only stage that touches the kernel.  ``run.execute`` is the entry point."""
