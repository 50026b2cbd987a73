"""Who an op is for: the recording interceptor opens a slot for each call, and whatever
identifies the caller inside it (the auth interceptor, once it has resolved the key) writes
the caller's name there, so the recorded op carries it (``ObservedOp.profile``).

A slot, not the caller itself, because the recording interceptor is outermost: it records
after the inner interceptors have returned and reset their own context.
"""

from __future__ import annotations

from contextvars import ContextVar

# The call's slot: a one-item list, or None outside a recorded call.
CALL_SLOT: ContextVar[list[str] | None] = ContextVar("lakehouse_op_caller", default=None)


def attribute(caller: str) -> None:
    """Name the caller of the call being recorded (nothing when none is)."""
    slot = CALL_SLOT.get()
    if slot is not None:
        slot[0] = caller
