"""Why an execution could not happen as asked (not a kernel outcome, not a harness bug)."""


class CannotExpress(Exception):
    """The back end has no way to say what the step asks (e.g. a NULL msg_control via socket.sendmsg),
    or the platform cannot provide what the scenario needs (no io_uring, no user namespaces)."""


class CaseTimeout(Exception):
    """The whole scenario took longer than its watchdog allows (harness.evaluate.watchdog), or the child
    that ran it gave no result in time."""


class ChildDied(Exception):
    """The forked child that ran the scenario died (a signal, or an exit without a result)."""
