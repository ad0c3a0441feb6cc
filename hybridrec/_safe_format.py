"""The safe model format: one zip of a JSON manifest and ``.npy`` arrays; loading never unpickles.

A model is written as a tree of JSON values. Arrays go to ``arrays/<n>.npy`` members (read back
with ``allow_pickle=False``); objects become ``{"$t": "obj", "cls": <dotted name>, "state": ...}``
and are rebuilt only when their class is on the allowlist (:data:`ALLOWED`, the registered
components, or a class given to :func:`allow`): the class is looked up, never imported by a name
read from the file, and rebuilt with ``cls.__new__`` and ``__setstate__``, so no constructor,
``__reduce__`` or pickle runs. Everything else (functions, open files, torch modules, arbitrary
objects) cannot be saved in this format and is refused with the path to the offending value.
"""
from __future__ import annotations

import collections
import importlib
import io
import json
import math
import os
import struct
import zipfile
from typing import IO, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Version of this layout; a newer one is refused on load.
SAFE_FORMAT = 1
#: Name written in the manifest; a zip without it is not a hybridrec model.
MAGIC = "hybridrec-model"
MANIFEST = "manifest.json"

#: Classes a saved model may contain, by dotted name. Modules are imported from this list only.
ALLOWED = frozenset({
    "hybridrec.recommender.HybridRecommender",
    "hybridrec.catalogue.Catalogue",
    "hybridrec.data.InteractionData",
    "hybridrec.sequences.Sequences",
    "hybridrec.text.TextEncoder",
    "hybridrec.modalities.ColumnEncoder",
    "hybridrec.features.BlockCompressor",
    "hybridrec.features.BlockQuantizer",
    "hybridrec.components.catalogue.CatalogueMap",
    "hybridrec.components.textknn._TextKNNState",
    "hybridrec.spark._als.SparkALSComponent",
    "hybridrec.spark._itemknn.SparkItemKNNComponent",
    "hybridrec.spark._tower.SparkTowerComponent",
    "lightfm.lightfm.LightFM",
    "sklearn.decomposition._pca.PCA",
    "sklearn.cluster._kmeans.KMeans",
})
_EXTRA: dict[str, type] = {}
_NUMPY_TYPES = {name: getattr(np, name) for name in ("float16", "float32", "float64", "int8", "int16", "int32",
                                                      "int64", "uint8", "uint16", "uint32", "uint64", "bool_")}


class UnsafeModelError(ValueError):
    """A file names a class or holds data that the safe format does not allow."""


def allow(cls: type) -> type:
    """Allow instances of ``cls`` (your own component or encoder) in saved models; returns ``cls``.

    Only do this for classes whose state is plain data: loading rebuilds them with
    ``cls.__new__`` and ``__setstate__`` (or ``__dict__.update``).
    """
    _EXTRA[dotted(cls)] = cls
    return cls


def dotted(cls: type) -> str:
    """``module.QualifiedName`` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _allowed_class(name: str) -> type:
    if name in _EXTRA:
        return _EXTRA[name]
    from .components import _registry

    _registry.available()  # imports the components package's modules: they register themselves
    for cls in _registry._REGISTRY.values():
        if dotted(cls) == name:
            return cls
    if name not in ALLOWED:
        raise UnsafeModelError(f"the file names the class {name!r}, which is not on hybridrec's allowlist of "
                               "loadable classes; nothing was run. Only load files written by hybridrec.save.")
    module, _, qualname = name.rpartition(".")
    return getattr(importlib.import_module(module), qualname)


def _is_allowed(cls: type) -> bool:
    try:
        return _allowed_class(dotted(cls)) is cls
    except UnsafeModelError:
        return False


class Writer:
    """Encode one object tree into JSON values, collecting its arrays."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self._memo: dict[int, int] = {}
        self._keep: list[Any] = []  # memoised objects stay alive, so their ids stay unique

    def encode(self, value: Any, path: str = "model") -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.integer):
            return value
        if isinstance(value, float) and not isinstance(value, np.floating):
            return value if math.isfinite(value) else {"$t": "float", "v": repr(value)}
        if isinstance(value, np.generic):
            return {"$t": "scalar", "dtype": value.dtype.str, "v": self.encode(value.item(), path)}
        if isinstance(value, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"$t": "tuple", "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, (set, frozenset)):
            return {"$t": type(value).__name__, "v": [self.encode(v, f"{path}{{}}") for v in value]}
        if isinstance(value, dict) and type(value) in (dict, collections.OrderedDict):
            return {"$t": "dict" if type(value) is dict else "odict",
                    "v": [[self.encode(k, f"{path} key"), self.encode(v, f"{path}[{k!r}]")] for k, v in value.items()]}
        if isinstance(value, np.dtype):
            return {"$t": "dtype", "v": value.str}
        if isinstance(value, type) and value in _NUMPY_TYPES.values():
            return {"$t": "nptype", "v": value.__name__}
        if id(value) in self._memo:
            return {"$t": "ref", "v": self._memo[id(value)]}
        ref = self._memo[id(value)] = len(self._memo)
        self._keep.append(value)
        return {"id": ref, **self._encode_shared(value, path)}

    def _encode_shared(self, value: Any, path: str) -> dict:
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return {"$t": "objects", "shape": list(value.shape),
                        "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value.ravel().tolist())]}
            self.arrays.append(np.ascontiguousarray(value))
            return {"$t": "array", "v": len(self.arrays) - 1}
        if sp.issparse(value):
            coo = value.tocoo() if value.format not in ("csr", "csc") else value
            parts = ({"data": coo.data, "row": coo.row, "col": coo.col} if value.format not in ("csr", "csc")
                     else {"data": value.data, "indices": value.indices, "indptr": value.indptr})
            return {"$t": "sparse", "format": value.format if value.format in ("csr", "csc") else "coo",
                    "array": isinstance(value, sp.sparray), "shape": list(value.shape),
                    **{k: self.encode(np.asarray(v), f"{path}.{k}") for k, v in parts.items()}}
        if isinstance(value, pd.Index) and not isinstance(value, pd.MultiIndex):
            return {"$t": "index", "dtype": str(value.dtype), "name": self.encode(value.name, path),
                    "v": self.encode(np.asarray(value.to_numpy(), dtype=object if value.dtype == object else None),
                                     path)}
        if isinstance(value, np.random.RandomState):
            return {"$t": "randomstate", "v": self.encode(value.get_state(legacy=True), path)}
        if _is_allowed(type(value)):
            state = value.__getstate__()
            if not isinstance(state, dict):
                raise TypeError(f"{path} ({dotted(type(value))}) has no dict state; the safe format cannot save it.")
            fields = [[self.encode(k, path), self.encode(v, f"{path}.{k}")] for k, v in state.items()]
            return {"$t": "obj", "cls": dotted(type(value)), "state": {"$t": "dict", "v": fields}}
        raise TypeError(f"{path} is a {dotted(type(value))}, which the safe format cannot save. Save "
                        "with format='joblib' (a pickle), or allow the class with hybridrec.persistence.allow.")


#: Arrays smaller than this are read, not mapped, by ``Reader(mapped=...)``.
MAP_BYTES = 1 << 16


def _mapped(path: str | os.PathLike, info: zipfile.ZipInfo) -> np.ndarray | None:
    """The ``.npy`` member ``info`` of the zip at ``path`` as a memory map, or None when it cannot be mapped.

    The members are stored uncompressed (:func:`write`), so an array's bytes lie in the file as
    they are: past the member's local header and the ``.npy`` header. The map is copy-on-write:
    pages are shared with every process that maps the file until one writes into them, and a
    write never reaches the file (compiled routines such as implicit's need writable buffers).
    Object arrays are refused.
    """
    if info.compress_type != zipfile.ZIP_STORED or info.file_size < MAP_BYTES:
        return None
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        if local[:4] != b"PK\x03\x04":
            raise UnsafeModelError(f"{info.filename} has no valid local header; the file is damaged.")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(handle)
        if version not in ((1, 0), (2, 0)):
            return None
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
    if dtype.hasobject:
        raise UnsafeModelError(f"{info.filename} holds objects, which cannot be read without unpickling; refused.")
    if offset % max(dtype.alignment, 1):
        return None  # a file written before members were aligned: read, not mapped (unaligned maps are slow)
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    mapped = np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape, order="F" if fortran else "C")
    return mapped.view(np.ndarray)  # a plain array over the map (the map stays open through .base)


class Reader:
    """Decode the JSON values written by :class:`Writer`, reading arrays on demand.

    With ``mapped`` (the zip's path), arrays of ``MAP_BYTES`` or more are memory-mapped from the
    file (copy-on-write) instead of read: processes that load the same file share one copy in memory.
    """

    def __init__(self, archive: zipfile.ZipFile, mapped: str | os.PathLike | None = None) -> None:
        self._archive = archive
        self._mapped = mapped
        self._memo: dict[int, Any] = {}

    def array(self, number: int) -> np.ndarray:
        try:
            if self._mapped is not None:
                out = _mapped(self._mapped, self._archive.getinfo(f"arrays/{int(number)}.npy"))
                if out is not None:
                    return out
            with self._archive.open(f"arrays/{int(number)}.npy") as member:
                return np.lib.format.read_array(io.BytesIO(member.read()), allow_pickle=False)
        except KeyError:
            raise UnsafeModelError(f"the file lacks the array member arrays/{number}.npy; it is damaged.") from None
        except ValueError as exc:  # object arrays need pickle: refused
            raise UnsafeModelError(f"arrays/{number}.npy cannot be read without unpickling ({exc}); refused.") from None

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or "$t" not in node:
            raise UnsafeModelError(f"unexpected value in the manifest: {str(node)[:80]!r}.")
        kind = node["$t"]
        simple = {"float": lambda: float(node["v"]), "tuple": lambda: tuple(self.decode(node["v"])),
                  "set": lambda: set(self.decode(node["v"])), "frozenset": lambda: frozenset(self.decode(node["v"])),
                  "dict": lambda: {self.decode(k): self.decode(v) for k, v in node["v"]},
                  "odict": lambda: collections.OrderedDict((self.decode(k), self.decode(v)) for k, v in node["v"]),
                  "dtype": lambda: np.dtype(str(node["v"])), "nptype": lambda: _NUMPY_TYPES[node["v"]],
                  "scalar": lambda: np.dtype(str(node["dtype"])).type(self.decode(node["v"])),
                  "ref": lambda: self._memo[node["v"]]}
        if kind in simple:
            if kind == "dtype" and np.dtype(str(node["v"])).hasobject:
                raise UnsafeModelError("the manifest names an object dtype; refused.")
            try:
                return simple[kind]()
            except KeyError as exc:
                raise UnsafeModelError(f"the manifest refers to {exc} that it does not define.") from None
        ref = node.get("id")
        if kind == "obj":
            cls = _allowed_class(str(node["cls"]))
            obj = cls.__new__(cls)
            self._memo[ref] = obj  # before the state: an object may refer to itself
            state = self.decode(node["state"])
            if getattr(cls, "__setstate__", None) is not None:
                obj.__setstate__(state)
            else:
                obj.__dict__.update(state)
            return obj
        self._memo[ref] = value = self._decode_shared(kind, node)
        return value

    def _decode_shared(self, kind: str, node: dict) -> Any:
        if kind == "array":
            return self.array(node["v"])
        if kind == "objects":
            out = np.empty(len(node["v"]), dtype=object)
            out[:] = self.decode(node["v"])
            return out.reshape(node["shape"])
        if kind == "sparse":
            shape = tuple(node["shape"])
            if node["format"] == "coo":
                built = sp.coo_matrix((self.decode(node["data"]), (self.decode(node["row"]), self.decode(node["col"]))),
                                      shape=shape)
            else:
                make = sp.csr_matrix if node["format"] == "csr" else sp.csc_matrix
                built = make((self.decode(node["data"]), self.decode(node["indices"]), self.decode(node["indptr"])),
                             shape=shape)
            return sp.csr_array(built).asformat(built.format) if node["array"] else built
        if kind == "index":
            values = self.decode(node["v"])
            return pd.Index(values, dtype=node["dtype"], name=self.decode(node["name"]), tupleize_cols=False)
        if kind == "randomstate":
            state = np.random.RandomState()
            state.set_state(self.decode(node["v"]))
            return state
        raise UnsafeModelError(f"unknown value kind {kind!r} in the manifest; is the file from a newer hybridrec?")


def write(handle: IO[bytes], model: Any, header: dict) -> None:
    """Write ``model`` and the ``header`` fields (versions, ...) as one zip to ``handle``."""
    writer = Writer()
    tree = writer.encode(model)
    manifest = {"magic": MAGIC, "safe_format": SAFE_FORMAT, **header, "model": tree}
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest))
        for number, array in enumerate(writer.arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"arrays/{number}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.extra = _padding(archive.fp.tell() + 30 + len(info.filename))
            archive.writestr(info, buffer.getvalue(), compress_type=zipfile.ZIP_STORED)


#: Members' data start at a multiple of this in the file, and ``.npy`` headers are padded to it,
#: so mapped arrays are aligned (:func:`_mapped`).
ALIGN = 64


def _padding(data_offset: int) -> bytes:
    """A zip extra field (id 0xD935, as zipalign writes) that moves a member's data from ``data_offset`` to a multiple of ALIGN."""
    size = (-(data_offset + 4)) % ALIGN
    return struct.pack("<HH", 0xD935, size) + bytes(size)


def read_manifest(archive: zipfile.ZipFile) -> dict:
    """The manifest of an opened model zip; ``UnsafeModelError`` when it is not one."""
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise UnsafeModelError(f"the zip has no {MANIFEST}; it was not written by hybridrec.save.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsafeModelError(f"{MANIFEST} is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("magic") != MAGIC:
        raise UnsafeModelError(f"{MANIFEST} does not describe a hybridrec model.")
    return manifest


def read(archive: zipfile.ZipFile, manifest: dict, mapped: str | os.PathLike | None = None) -> Any:
    """The model of an opened model zip (its manifest already checked); ``mapped``: see :class:`Reader`."""
    return Reader(archive, mapped).decode(manifest["model"])
