"""Reader for the IDX format of (Fashion-)MNIST, plain or gzip-compressed.

Format (http://yann.lecun.com/exdb/mnist/): magic `0x00 0x00 <dtype code> <ndim>`,
`ndim` big-endian uint32 sizes, then the data, row-major and big-endian.
"""

import gzip
import os
import zlib

import numpy as np

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path, expected_ndim=None):
    """Reads an IDX file (`.gz` or not) into a numpy array.

    Args:
        path: file path. Gzip data is recognised by its own magic bytes.
        expected_ndim: if given, the file must have this many dimensions
            (3 for an image file, 1 for a label file).

    Returns:
        A numpy array with the file's shape, in native byte order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a valid IDX file (bad magic number, wrong
            number of dimensions, truncated or extra data, broken gzip).

    Example:

    >>> labels = read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", 1)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"IDX file not found. Received: path={path!r}")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"Corrupt gzip data in IDX file ({e}); re-install or re-download it. "
                f"Received: path={path!r}"
            ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(
            "Not an IDX file: the magic number must be 0x0000 followed by a type "
            f"code in {sorted(hex(k) for k in _DTYPES)} and the number of dimensions. "
            f"Received: path={path!r}, magic={raw[:4].hex()!r}"
        )
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(
            f"IDX file has {ndim} dimensions, expected {expected_ndim}. Received: path={path!r}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX header is truncated. Received: path={path!r}, bytes={len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"IDX data size does not match its header shape {shape}: expected {expected} "
            f"bytes. Received: path={path!r}, bytes={len(raw)}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)
