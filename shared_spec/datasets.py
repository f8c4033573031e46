"""Explaining data sets in chunks, for both packages: :func:`explain_in_chunks`.

``signxai_captum.explain_dataset`` and ``signxai_tf.explain_dataset`` call it with their own
``explain``. The data is read one chunk at a time (a numpy array or memory map is sliced, an
iterable yields its batches), each chunk is explained, and the maps are written into one output
array as they come: in memory, or into a ``.npy`` file on disk (a memory map), so that memory is
bounded by the chunk and the input can be larger than memory. A tqdm progress bar shows the
progress of long runs (docs/datasets.md).

numpy and tqdm only: torch and TensorFlow tensors are converted by duck typing (no framework is
imported here).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .errors import MethodParameterError
from .noise import one_seed_for_many_calls
from .spec import MethodSpec
from ._arrays import to_numpy as _to_numpy

__all__ = ["LABELS", "explain_in_chunks", "NpyWriter"]

#: ``target=LABELS``: the second element of each ``(x, y)`` batch is the target of its samples
LABELS = "labels"

#: reserved bytes for the header of a ``.npy`` file whose length is not known in advance
_HEADER_BYTES = 256


class NpyWriter:
    """Append maps to a ``.npy`` file whose first dimension grows as chunks arrive.

    The header is written with room to spare and rewritten with the final shape on
    :meth:`close`, so the length need not be known in advance; nothing but the current chunk is
    held in memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (overwritten).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = pathlib.Path(path)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(b"\0" * _HEADER_BYTES)
        self._rows = 0
        self._sample_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def append(self, chunk: np.ndarray) -> None:
        """Write the maps of one chunk (samples along axis 0)."""
        chunk = np.ascontiguousarray(chunk)
        if self._sample_shape is None:
            self._sample_shape, self._dtype = tuple(chunk.shape[1:]), chunk.dtype
        elif tuple(chunk.shape[1:]) != self._sample_shape:
            raise ValueError(
                f"the maps of a chunk have sample shape {tuple(chunk.shape[1:])}, earlier chunks {self._sample_shape}: "
                "every batch of the data set must have the same sample shape"
            )
        self._file.write(chunk.astype(self._dtype, copy=False).tobytes())
        self._rows += int(chunk.shape[0])

    def close(self) -> None:
        """Write the final header; the file is then a regular ``.npy`` file."""
        if self._file.closed:
            return
        shape = (self._rows,) + (self._sample_shape or ())
        dtype = self._dtype if self._dtype is not None else np.dtype(np.float32)
        header = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
        # magic (6) + version (2) + header length (2) + header, padded with spaces, ending in a newline
        room = _HEADER_BYTES - 10
        text = header.encode("latin1")
        if len(text) + 1 > room:  # pragma: no cover - a shape of hundreds of dimensions
            raise ValueError("the map shape is too long for the .npy header")
        text = text + b" " * (room - len(text) - 1) + b"\n"
        self._file.seek(0)
        self._file.write(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text)
        self._file.close()


def _chunks_of_array(data: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(data), batch_size):
        yield np.asarray(data[start : start + batch_size])


def _split_batch(batch: Any) -> tuple[Any, Any]:
    """``x`` and the labels of a batch: ``(x, y, ...)`` tuples and lists give ``(x, y)``, a dict ``x`` / ``y`` keys."""
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError("the data set yielded an empty batch")
        return batch[0], batch[1] if len(batch) > 1 else None
    if isinstance(batch, dict):
        return batch.get("x", batch.get("image", batch.get("input"))), batch.get("y", batch.get("label"))
    return batch, None


def explain_in_chunks(
    explain_chunk: Callable[[Any, Any, dict[str, Any]], np.ndarray],
    data: Any,
    spec: MethodSpec,
    target: Any = None,
    *,
    batch_size: int = 32,
    out: str | os.PathLike | None = None,
    progress: bool | None = None,
    length: int | None = None,
    description: str | None = None,
    after_chunk: Callable[[int, int | None], None] | None = None,
) -> np.ndarray:
    """Explain ``data`` chunk by chunk, writing the maps into one array (or one ``.npy`` file).

    Parameters
    ----------
    explain_chunk : callable
        ``explain_chunk(x, target, extra_params)`` returns the maps (numpy) of one batch ``x``.
    data : numpy.ndarray, numpy.memmap, or iterable of batches
        An array (samples along axis 0; a memory map is read one chunk at a time), or an iterable
        that yields batches (a ``torch.utils.data.DataLoader``, a batched ``tf.data.Dataset``, a
        generator): each batch an array / tensor, or an ``(x, y, ...)`` tuple whose first element
        is the input.
    spec : MethodSpec
        The parsed method (for the noise seed of SmoothGrad / VarGrad, see below).
    target : None, int, sequence of int or "labels"
        None: the argmax per sample; an int: that class for all; a sequence: one class per sample
        of the whole data set (sliced per chunk); ``"labels"``: the ``y`` of each ``(x, y)`` batch.
    batch_size : int, default 32
        The chunk size for arrays (an iterable's batches are taken as they come).
    out : path, optional
        A ``.npy`` file to write the maps into; the result is then that file opened as a
        read-only memory map. None: the maps are returned in memory.
    progress : bool or None
        None: a progress bar appears when the run takes longer than 2 s; True: always; False: never.
    length : int, optional
        The number of samples, when the iterable does not say (for the progress bar only).
    description : str, optional
        The progress bar's label.
    after_chunk : callable, optional
        ``after_chunk(done, total)`` after each chunk: the samples explained so far and the data
        set's size (None where unknown); a package uses it to adapt the rest of a long run.

    Returns
    -------
    numpy.ndarray or numpy.memmap
        The maps of every sample, in order: exactly what one call on all samples gives.

    Notes
    -----
    SmoothGrad and VarGrad without a ``seed`` draw their noise once for the whole data set (one
    seed is drawn for the run): every sample sees the noise it would see in one big call.
    """
    from tqdm.auto import tqdm

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise MethodParameterError(f"batch_size must be an int >= 1, got {batch_size!r}")
    extra = one_seed_for_many_calls(spec)
    per_sample_targets = None
    if target is not None and not (isinstance(target, str) and target == LABELS):
        values = _to_numpy(target)
        if values.ndim == 1 and values.size > 1:
            per_sample_targets = values
        elif isinstance(target, str):
            raise MethodParameterError(f"target={target!r}: give None, an int, one int per sample, or 'labels'")

    if hasattr(data, "numpy") and hasattr(data, "shape") and not hasattr(data, "detach") and not isinstance(data, np.ndarray):
        data = data.numpy()  # a tf.Tensor: explained in chunks like an array
    is_array = isinstance(data, np.ndarray) or (hasattr(data, "detach") and hasattr(data, "shape"))  # numpy / memmap / torch
    if is_array:
        total = int(data.shape[0])
        batches: Iterable[Any] = _chunks_of_array(data, int(batch_size))
        if target is not None and isinstance(target, str) and target == LABELS:
            raise MethodParameterError("target='labels' needs a data set that yields (x, y) batches, not an array")
    else:
        if not hasattr(data, "__iter__"):
            raise TypeError(
                f"data must be an array, a memory map or an iterable of batches (DataLoader, tf.data.Dataset), "
                f"got {type(data).__name__}"
            )
        batches = data
        total = length
        if total is None:
            try:
                total = len(data.dataset) if hasattr(data, "dataset") and hasattr(data.dataset, "__len__") else None
            except TypeError:
                total = None
    if per_sample_targets is not None and total is not None and len(per_sample_targets) != total:
        raise ValueError(f"target has {len(per_sample_targets)} entries, but the data set has {total} samples")

    writer = NpyWriter(out) if out is not None else None
    parts: list[np.ndarray] = []
    done = 0
    bar = tqdm(
        total=total, unit="sample", desc=description or spec.name, disable=(progress is False),
        delay=0.0 if progress else 2.0, leave=False,
    )
    try:
        for batch in batches:
            x, labels = _split_batch(batch)
            n = int(x.shape[0]) if hasattr(x, "shape") else len(x)
            if target is not None and isinstance(target, str) and target == LABELS:
                if labels is None:
                    raise MethodParameterError("target='labels' needs (x, y) batches; this batch has no labels")
                chunk_target = _to_numpy(labels).reshape(-1).astype(np.int64)
            elif per_sample_targets is not None:
                chunk_target = per_sample_targets[done : done + n]
                if len(chunk_target) != n:
                    raise ValueError(f"target has {len(per_sample_targets)} entries, fewer than the data set's samples")
            else:
                chunk_target = target
            maps = np.asarray(explain_chunk(x, chunk_target, extra))
            if writer is not None:
                writer.append(maps)
            else:
                parts.append(maps)
            done += n
            bar.update(n)
            if after_chunk is not None:
                after_chunk(done, total)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    if per_sample_targets is not None and done != len(per_sample_targets):
        raise ValueError(f"target has {len(per_sample_targets)} entries, but the data set had {done} samples")
    if writer is not None:
        return np.load(writer.path, mmap_mode="r")
    if not parts:
        raise ValueError("the data set is empty: nothing to explain")
    return np.concatenate(parts, axis=0)

