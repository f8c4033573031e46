"""Leave the user's model exactly as it was, and let one explanation at a time touch it.

- :func:`evaluation_mode`: eval mode for the explanation; training flags and ``requires_grad``
  restored afterwards, also after an exception.
- :func:`exclusive`: explanations of the same modules run one at a time, whichever thread calls.
  Every explanation changes its model for its duration (eval mode, hooks, canonizers), so two
  explanations of one model from two threads would see each other's hooks. Each module has a
  re-entrant lock; an explanation holds the locks of all modules of its model, acquired in one
  global order (so models that share modules serialise too, without deadlock). Explanations of
  models without common modules still run in parallel.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Iterator

from torch import nn

__all__ = ["evaluation_mode", "exclusive"]

_LOCKS: "weakref.WeakKeyDictionary[nn.Module, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for an explanation and restore every flag afterwards.

    Explanations are computed in inference mode (batch norm uses its running statistics,
    dropout is off), so a sample's map does not depend on the rest of the batch. On exit,
    also after an exception, each submodule's ``training`` flag and each parameter's
    ``requires_grad`` are put back.
    """
    training = [(m, m.training) for m in model.modules()]
    requires_grad = [(p, p.requires_grad) for p in model.parameters()]
    try:
        try:
            model.eval()
        except NotImplementedError:  # a torch.export graph: its train/eval behaviour was fixed at export
            pass
        yield model
    finally:
        for module, flag in training:
            module.training = flag
        for param, flag in requires_grad:
            if param.requires_grad != flag:
                param.requires_grad_(flag)


def _module_locks(model: nn.Module) -> list[threading.RLock]:
    """The locks of every module of ``model``, in the one global acquisition order."""
    modules = sorted(set(model.modules()), key=id)
    with _LOCKS_GUARD:
        locks = []
        for module in modules:
            lock = _LOCKS.get(module)
            if lock is None:
                lock = _LOCKS[module] = threading.RLock()
            locks.append(lock)
    return locks


@contextlib.contextmanager
def exclusive(model: nn.Module) -> Iterator[nn.Module]:
    """Hold every module of ``model`` for one explanation (re-entrant within a thread).

    Parameters
    ----------
    model : torch.nn.Module
        The module tree the explanation will change (hooks, flags, canonizers).

    Yields
    ------
    torch.nn.Module
        ``model``.
    """
    locks = _module_locks(model)
    acquired: list[threading.RLock] = []
    try:
        for lock in locks:
            lock.acquire()
            acquired.append(lock)
        yield model
    finally:
        for lock in reversed(acquired):
            lock.release()
