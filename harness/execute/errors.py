"""Why an execution could not happen as asked (not a kernel outcome, not a harness bug)."""


class CannotExpress(Exception):
    """The back end has no way to say what the step asks (e.g. a NULL msg_control via socket.sendmsg),
    or the platform cannot provide what the scenario needs (no io_uring, no user namespaces)."""
