"""Expectations and observations in plain words, for reports."""

from __future__ import annotations

from harness.check.registry import words
from harness.expectation import Expectation, ExpectedCmsg, StepExpectation
from harness.observation import Observation, ObservedCmsg, ReceivedFd, StepObservation


def _fd_words(fd: ReceivedFd) -> str:
    """The entry a received fd is; one it could not be told apart from says so (ReceivedFd.identity)."""
    if fd.same_file_as is not None:
        return fd.same_file_as
    if fd.undecided_as:
        return f"{'|'.join(fd.undecided_as)} (identity undecided: {fd.identity_note})"
    return fd.same_inode_as[0] if fd.same_inode_as else "?"


def _cmsg_words(cmsg: ExpectedCmsg | ObservedCmsg) -> str:
    text = f"{cmsg.type} len {cmsg.length}"
    if isinstance(cmsg, ExpectedCmsg) and cmsg.pidfd is not None:
        text += f" pidfd of {cmsg.pidfd}"
    if cmsg.pidfd_error is not None:
        text += f" pidfd error {cmsg.pidfd_error}"
    if isinstance(cmsg, ExpectedCmsg) and cmsg.fds:
        text += " fds " + ",".join(f.name for f in cmsg.fds)
    elif isinstance(cmsg, ObservedCmsg) and cmsg.fds:
        text += " fds " + ",".join(map(_fd_words, cmsg.fds))
    if cmsg.creds is not None:
        text += " creds " + "/".join(map(str, cmsg.creds))
    return text


def step_words(step: StepExpectation | StepObservation) -> str:
    text = f"{step.op} {step.outcome.describe()}"
    if step.op == "recv" and step.outcome.describe().startswith("returned"):
        text += f" {words(step.data)}"
        if step.msg_flags:
            text += f" {words(step.msg_flags)}"
        if step.cmsgs:
            text += " [" + "; ".join(_cmsg_words(c) for c in step.cmsgs) + "]"
    if step.signals:
        text += f" +{','.join(step.signals)}"
    if step.events is not None:
        text += f" {words(step.events)}"
    if step.address is not None:
        text += f" name {step.address}"
    if step.peercred is not None:
        text += f" peer {'/'.join(map(str, step.peercred))}"
    if step.nested:
        text += " [" + "; ".join(step_words(s) for s in step.nested) + "]"
    return text


def expectation_words(expectation: Expectation) -> str:
    return "; ".join(step_words(s) for s in expectation.steps)


def observation_words(observation: Observation) -> str:
    text = "; ".join(step_words(s) for s in observation.steps)
    if observation.leaked_fds:
        text += f"; leaked {len(observation.leaked_fds)} fds"
    return text
