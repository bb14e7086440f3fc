"""The ``typed`` feature mode: every trace field encoded by what it is (NumPy only).

Per row, in this order (``feature_names``):

* ``interarrival`` — continuous, heavy-tailed: ``log`` (log1p, then MinMax to [-1, 1]),
  ``quantile`` (the training values' quantiles mapped linearly onto [-1, 1]) or ``normal`` (the
  same quantiles as a scaled standard normal, as CTGAN-style quantile transforms do); an atom
  such as a run of zero gaps maps to the middle of its rank range;
* ``length`` — continuous (same encoding), used only when the size category is ``other``;
* ``lba`` — MinMax, whatever ``continuous`` says: seek distances stay linear (quantiles spread a
  trace's few hot regions into even values, and measured: miss-ratio error 0.25 instead of 0.05);
* ``latency`` — continuous, only when the trace has it (a column with one value, such as the
  zeros a reader fills in for a trace without latency, is not modelled and not written);
* ``size=<bytes>`` one-hot — the most common sizes covering ``size_coverage`` of the requests
  (at most ``MAX_SIZES``) and an ``size=other`` bucket, decoded from the continuous length
  rounded to the trace's alignment (the largest power of two dividing every size, up to 4096);
* ``op=read`` / ``op=write`` one-hot — only when every row's opcode is known.

With ``locality="lru"`` (the default) the address is not regressed: ``lba`` gives way to one more
head saying what the request does (``training.locality``) — ``addr=seq`` (it continues the
previous request), ``addr=new<b>`` (a page not seen before, at a signed stride from the previous
request's end in bucket ``b``) or ``addr=reuse<b>`` (a page seen before, at an LRU stack distance
in bucket ``b``). Within its bucket the value is drawn uniformly on a signed log scale from a
uniform that ``sample_blocks`` draws with NumPy from (seed, stream,
block): the network decides only categories, so the torch and ONNX paths give the same addresses
(a continuous position from the network differs between them in the last float bits, enough to
move an address across a page and the whole stack after it). The buckets are quantiles of the
training trace's strides and stack distances (``reuse_buckets`` of each, fewer where they
coincide): a categorical head learns a bimodal stride (small steps and jumps across the volume)
where one continuous output collapses to the middle. The decoding of addresses keeps an LRU stack per stream
(``start_stream``): ``lru`` stacks each request's first page, ``lru-pages`` every page it spans.

The generator ends in one softmax head per one-hot group (``heads``); its output is decoded
with ``argmax``. Sizes and opcodes therefore round-trip exactly, and every synthetic size is a
real one or aligned like them. Rows come back in ``ROW_COLUMNS`` order with NaN where the model
has no such column; ``columns`` names those it has.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from training import locality, sticky
from training.column_codecs import QUANTILES, Buckets, Continuous
from training.config import CONTINUOUS_ENCODINGS, LOCALITY, ROW_COLUMNS
from training.errors import ConfigError, ModelError
from training.levels import Levels
from training.locality import JUMP, NEW, PAGE_SECTORS, REUSE, SEQ
from training.readers import TraceFrame
from training.transform import Stream, TraceTransformer

__all__ = ["TypedTransformer", "MAX_SIZES", "QUANTILES"]

MAX_SIZES = 64
_FORMAT_VERSION = 4
_READS = (2, 3, 4)  # format versions this code reads (2: before locality, 3: before far jumps)
JUMP_LEVELS = 257  # quantiles of the far jumps' destinations (_jump_table)
JUMP_REACH = 64  # a stride bucket is a far jump when its median stride is beyond 1/64 of the address range
_CONTINUOUS = ("interarrival", "length", "lba", "latency")


_BLOCK = 1 << 15  # rows per block of TypedTransformer.transform (stays in cache)


def _far_buckets(bucket: np.ndarray, stride: np.ndarray, k: int, span: int) -> np.ndarray:
    """The stride buckets (of ``k``) that are far jumps: the median stride of the training's new
    requests in them (``bucket`` of each) at least ``span / JUMP_REACH`` one way (MSR web0: the
    outermost two, beyond ±2.07M of 71M sectors; the bundled sample, whose runs start in random
    regions of a 128M-sector volume: 6 of 8)."""
    far = [b for b in range(k) if (bucket == b).any() and abs(np.median(stride[bucket == b])) >= span / JUMP_REACH]
    return np.array(far, np.int64)


def _jump_table(lba: np.ndarray, action: np.ndarray, stride: np.ndarray, new: Buckets,
                span: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Where a trace's far jumps land: (the far buckets, ``JUMP_LEVELS`` quantiles of the addresses
    of the new requests in them), or None (no far bucket, or too few such requests). A far stride
    added to the previous address and wrapped into the range, as decoded before, makes a long
    stream's addresses drift towards uniform over the whole range (MSR web0: a 10k-row rollout's LBA
    quantiles 25/50/75% at 0.16/0.43/0.77 of the range against the real 0.05/0.09/0.46, and one LBA
    alone told a synthetic row from a real one 90% of the time); landing where the trace's own
    jumps land keeps its hot regions."""
    new_rows = action == NEW
    b, _ = new.encode(stride)
    buckets = _far_buckets(b[new_rows], stride[new_rows], len(new), span)
    far = new_rows & np.isin(b, buckets)
    if not len(buckets) or np.count_nonzero(far) < 16:
        return None
    return buckets, np.quantile(lba[far], np.linspace(0.0, 1.0, JUMP_LEVELS), method="inverted_cdf").astype(np.int64)


def _jump_steps(table: np.ndarray) -> tuple[np.ndarray, float]:
    """The jump table's segments and the widest one a jump may fill: 4x the median width, so a
    segment that spans a gap between two regions (no jumps land there) places its jumps just past
    its lower end instead of anywhere in the gap."""
    widths = np.diff(table).astype(np.float64)
    return widths, 4.0 * float(np.median(widths[widths > 0])) if (widths > 0).any() else 0.0


def jump_addresses(table: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Far-jump destinations for uniforms ``u``: a place among the table's quantiles."""
    widths, limit = _jump_steps(table)
    x = np.clip(u, 0.0, 1.0) * (len(table) - 1)
    k = np.minimum(x.astype(np.int64), len(table) - 2)
    return table[k] + (x - k) * np.minimum(widths[k], limit)


def jump_uniforms(table: np.ndarray, lba: np.ndarray) -> np.ndarray:
    """The inverse of ``jump_addresses`` (exact within segments no wider than its limit)."""
    widths, limit = _jump_steps(table)
    k = np.clip(np.searchsorted(table, lba, side="right") - 1, 0, len(table) - 2)
    room = np.minimum(widths[k], limit)
    frac = np.where(room > 0, (lba - table[k]) / np.where(room > 0, room, 1.0), 0.0)
    return (k + np.clip(frac, 0.0, 1.0)) / (len(table) - 1)


class TypedTransformer(TraceTransformer):
    """Fit / transform / inverse between a ``TraceFrame`` and typed features (module docstring)."""

    def __init__(self, *, continuous: str = "log", size_coverage: float = 0.99, locality: str = "none",
                 reuse_buckets: int = 8) -> None:
        if continuous not in CONTINUOUS_ENCODINGS:
            raise ConfigError(f"continuous must be one of {', '.join(CONTINUOUS_ENCODINGS)}, but got {continuous!r}")
        if locality not in LOCALITY:
            raise ConfigError(f"locality must be one of {', '.join(LOCALITY)}, but got {locality!r}")
        super().__init__(mode="typed")
        self.continuous, self.size_coverage = continuous, size_coverage
        self.locality, self.reuse_buckets = locality, int(reuse_buckets)
        self.encoders: dict[str, Continuous] = {}
        self.sizes_: np.ndarray | None = None  # the size categories, bytes; "other" is one more
        self.align_ = 1
        self.has_latency_ = self.has_opcode_ = False
        self.reuse_: Buckets | None = None  # LRU stack distances of reuses
        self.new_: Buckets | None = None  # strides of new pages
        self.jump_: np.ndarray | None = None  # where far jumps land (_jump_table); None: models saved before
        self.far_: np.ndarray = np.zeros(0, np.int64)  # the stride buckets that are far jumps
        self.lba_range_ = (0, 1, 1, 0, 0)  # lowest LBA, end of the highest, alignment, a stream's start, phase
        self.sticky_: tuple[float, ...] = ()  # per head, how often a row keeps the previous row's noise (training.sticky)
        self.levels_: dict[str, dict[str, Any]] | None = None  # fitted at calibration (training.levels)
        self.phases_: dict[str, dict[str, float]] | None = None  # head name -> rho, tau, keep (training.phases)

    # -- layout ---------------------------------------------------------------------------
    @property
    def continuous_names(self) -> tuple[str, ...]:
        return tuple(c for c in _CONTINUOUS if c in self.encoders)

    @property
    def heads(self) -> tuple[int, ...]:
        """Widths of the one-hot groups at the end of the feature vector (softmax heads)."""
        self._require_fitted()
        return (len(self.sizes_) + 1,) + ((2,) if self.has_opcode_ else ()) + \
            ((1 + len(self.new_) + len(self.reuse_),) if self.locality != "none" else ())

    @property
    def head_names(self) -> tuple[str, ...]:
        """The softmax heads' names, in ``heads`` order: ``size``, ``op`` (with an opcode), ``addr`` (with locality)."""
        return ("size",) + (("op",) if self.has_opcode_ else ()) + (("addr",) if self.locality != "none" else ())

    @property
    def feature_names(self) -> tuple[str, ...]:
        self._require_fitted()
        sizes = tuple(f"size={int(s)}" for s in self.sizes_) + ("size=other",)
        ops = ("op=read", "op=write") if self.has_opcode_ else ()
        addr = ("addr=seq", *(f"addr=new{b}" for b in range(len(self.new_))),
                *(f"addr=reuse{b}" for b in range(len(self.reuse_)))) if self.locality != "none" else ()
        return self.continuous_names + sizes + ops + addr

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in ROW_COLUMNS if (c != "latency" or self.has_latency_)
                     and (c != "opcode" or self.has_opcode_))

    def _require_fitted(self) -> None:
        if self.sizes_ is None:
            raise ModelError("TypedTransformer is not fitted")

    # -- fit / transform ------------------------------------------------------------------
    @staticmethod
    def _gaps(frame: TraceFrame) -> np.ndarray:
        t = frame.timestamp.astype(np.float64)
        return np.maximum(np.diff(t, prepend=t[:1]), 0.0)

    def fit(self, frame: TraceFrame) -> TypedTransformer:
        """Choose the size categories and alignment, which optional fields exist, and each scale."""
        self._fit(frame)
        return self

    def _fit(self, frame: TraceFrame) -> list[np.ndarray]:
        """``fit``'s work; returns each head's categories of the rows (``_categories``), which it
        needs for the keep probabilities and ``fit_transform`` for the one-hots."""
        actions = None
        self._fit_clock(frame)
        length = np.rint(frame.length).astype(np.int64)
        values, counts = np.unique(length, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        cover = np.cumsum(counts[order]) / counts.sum()
        k = min(int(np.searchsorted(cover, self.size_coverage - 1e-12)) + 1, MAX_SIZES, len(values))
        self.sizes_ = values[order[:k]].astype(np.float64)
        nonzero = length[length > 0]
        gcd = int(np.gcd.reduce(nonzero)) if len(nonzero) else 1
        self.align_ = min(gcd & -gcd, 4096) if gcd else 1  # largest power of two dividing every size
        self.has_latency_ = bool(len(frame) and np.ptp(frame.latency) > 0)
        self.has_opcode_ = bool(len(frame) and (frame.opcode >= 0).all())
        kind = self.continuous
        self.encoders = {"interarrival": Continuous.fit(kind, self._gaps(frame)),
                         "length": Continuous.fit(kind, frame.length)}
        if self.locality != "none":
            actions = self._fit_locality(frame)
        else:
            self.encoders["lba"] = Continuous.fit("minmax", frame.lba)
        if self.has_latency_:
            self.encoders["latency"] = Continuous.fit(kind, frame.latency)
        categories = self._categories(frame, actions)
        self.sticky_ = sticky.head_keep(categories, self.heads)
        return categories

    def _fit_locality(self, frame: TraceFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lba = np.rint(frame.lba).astype(np.int64)
        nonzero = lba[lba > 0]
        gcd = int(np.gcd.reduce(nonzero)) if len(nonzero) else 1
        align = min(gcd & -gcd, PAGE_SECTORS) if gcd else 1
        end = lba + np.maximum(np.ceil(frame.length / 512.0), 1).astype(np.int64)
        phase = int(np.argmax(np.bincount(lba % PAGE_SECTORS, minlength=PAGE_SECTORS)))
        self.lba_range_ = (int(lba.min()), int(end.max()), int(align), int(lba[0]), phase)
        action, stride, dist = self._actions(frame)
        self.new_ = Buckets.fit(stride[action == NEW], self.reuse_buckets)
        self.reuse_ = Buckets.fit(dist[action == REUSE], self.reuse_buckets)
        table = _jump_table(lba, action, stride, self.new_, self.lba_range_[1] - self.lba_range_[0])
        self.far_, self.jump_ = table if table is not None else (np.zeros(0, np.int64), None)
        return action, stride, dist

    def _actions(self, frame: TraceFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return locality.encode(np.rint(frame.lba).astype(np.int64), frame.length, self.lba_range_[3],
                               phase=self.lba_range_[4], spans=self.locality == "lru-pages")

    def transform(self, frame: TraceFrame, categories: list[np.ndarray] | None = None) -> np.ndarray:
        """``(n, len(feature_names))`` float32: continuous columns in [-1, 1], then one-hots,
        written block by block into one preallocated array (on a 10M-row trace, column-at-a-time
        writes over the whole array cost 3x more than the encoding itself)."""
        self._require_fitted()
        n = len(frame)
        raw = {"interarrival": self._gaps(frame), "length": frame.length, "lba": frame.lba, "latency": frame.latency}
        cont = [self.encoders[c].transform(np.asarray(raw[c], np.float64)).astype(np.float32)
                for c in self.continuous_names]
        starts = len(cont) + np.cumsum((0,) + self.heads[:-1])
        categories = categories if categories is not None else self._categories(frame)
        hot = [start + cat for start, cat in zip(starts, categories)]  # the column of each group's 1, per row
        out = np.empty((n, len(self.feature_names)), np.float32)
        for a in range(0, n, _BLOCK):
            block = out[a:a + _BLOCK]
            block[:] = 0.0
            for j, col in enumerate(cont):
                block[:, j] = col[a:a + _BLOCK]
            rows = np.arange(len(block))
            for cols in hot:
                block[rows, cols[a:a + _BLOCK]] = 1.0
        return out

    def _categories(self, frame: TraceFrame, actions: tuple | None = None) -> list[np.ndarray]:
        """Each head's category of every row: size, opcode, address action (those the model has)."""
        length = np.rint(frame.length)
        size_idx = np.full(len(frame), len(self.sizes_))
        order = np.argsort(self.sizes_)
        pos = np.clip(np.searchsorted(self.sizes_[order], length), 0, len(order) - 1)
        hit = self.sizes_[order][pos] == length
        size_idx[hit] = order[pos[hit]]
        out = [size_idx]
        if self.has_opcode_:
            out.append(np.asarray(frame.opcode, np.int64))
        if self.locality != "none":
            out.append(self._heads(actions or self._actions(frame))[0])
        return out

    def fit_transform(self, frame: TraceFrame) -> np.ndarray:
        """``fit`` then ``transform``, encoding every head's categories once (for the addresses, an LRU
        pass over every row)."""
        return self.transform(frame, self._fit(frame))

    def inverse_features(self, y: np.ndarray) -> np.ndarray:
        """Features -> ``(n, 5)`` rows in ``ROW_COLUMNS`` order (inter-arrival times in column 0,
        NaN for a column the model lacks); ``finish`` turns the gaps into timestamps."""
        self._require_fitted()
        y = np.asarray(y, np.float64)
        out = np.full((len(y), len(ROW_COLUMNS)), np.nan)
        cont = {c: self.encoders[c].inverse(y[:, j]) for j, c in enumerate(self.continuous_names)}
        out[:, 0], out[:, 2] = cont["interarrival"], cont.get("lba", np.nan)
        if self.has_latency_:
            out[:, 3] = cont["latency"]
        start = len(self.continuous_names)
        size_idx = np.argmax(y[:, start:start + len(self.sizes_) + 1], axis=1)
        other = np.maximum(np.rint(cont["length"] / self.align_), 1.0) * self.align_
        out[:, 1] = np.where(size_idx < len(self.sizes_), self.sizes_[np.minimum(size_idx, len(self.sizes_) - 1)], other)
        start += len(self.sizes_) + 1
        if self.has_opcode_:
            out[:, 4] = np.argmax(y[:, start:start + 2], axis=1)
            start += 2
        if self.locality != "none":  # the address head's index, for the stream's LRU stack
            out = np.column_stack([out, np.argmax(y[:, start:start + self.heads[-1]], axis=1)])
        return out

    def address_heads(self, frame: TraceFrame) -> tuple[np.ndarray, np.ndarray]:
        """The address head's category of each request and the uniform that places its value
        within the bucket (what ``addresses`` needs to give the trace's own addresses back; for a far
        jump, the place of its address among the jump table's quantiles)."""
        head, u = self._heads(self._actions(frame))
        if self.jump_ is not None:
            far = np.isin(head, 1 + self.far_)
            u[far] = jump_uniforms(self.jump_, frame.lba[far])
        return head, u

    def _heads(self, actions: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        action, stride, dist = actions
        head, u = np.zeros(len(action), np.int64), np.full(len(action), 0.5)
        for kind, buckets, values, first in ((NEW, self.new_, stride, 1), (REUSE, self.reuse_, dist, 1 + len(self.new_))):
            rows = action == kind
            b, pos = buckets.encode(values[rows])
            head[rows], u[rows] = first + b, (pos + 1.0) / 2.0
        return head, u

    def start_stream(self, t_start: float = 0.0, *, seed: int = 0, stream: int = 0) -> Stream:
        """The stateful decoding of one stream: time, with ``lru`` the LRU stack of addresses, and
        with fitted ``levels_`` the slow levels of its gaps and latency (``training.levels``)."""
        levels = Levels(self.levels_, seed, stream) if self.levels_ else None
        return (_LocalityStream if self.locality != "none" else Stream)(self, t_start, levels)

    def with_levels(self, levels: dict[str, dict[str, Any]] | None) -> TypedTransformer:
        """A copy of this transformer whose streams apply ``levels`` (``training.levels``; None: none)."""
        other = copy.copy(self)
        other.levels_ = levels or None
        return other

    def with_phases(self, phases: dict[str, dict[str, float]] | None) -> TypedTransformer:
        """A copy of this transformer whose streams give these heads' noise a slow share and keep it
        with the fitted probability instead of ``sticky_`` (``training.phases``: ``{head: {"rho", "tau", "keep"}}``)."""
        other = copy.copy(self)
        other.phases_ = phases or None
        return other

    def new_stack(self) -> locality.Stack:
        """An empty LRU stack for a new stream, with this trace's address range, start and phase."""
        lo, hi, align, start, phase = self.lba_range_
        return locality.Stack(start, lo, hi, align, phase=phase, spans=self.locality == "lru-pages")

    def address_actions(self, head: np.ndarray) -> np.ndarray:
        """The action (``SEQ``, ``NEW`` or ``REUSE``, int8) of each address head category in ``head``."""
        head = np.asarray(head)
        return np.where(head == 0, SEQ, np.where(head <= len(self.new_), NEW, REUSE)).astype(np.int8)

    def addresses(self, rows: np.ndarray, stack: locality.Stack) -> np.ndarray:
        """LBAs of ``inverse_features`` rows (address head index in column 5) with a uniform in
        column 6 (``sample_blocks`` adds it; 0.5, mid-bucket, without one), advancing ``stack``."""
        head = rows[:, 5].astype(np.int64)
        u = rows[:, 6] if rows.shape[1] > 6 else np.full(len(rows), 0.5)
        pos = 2.0 * u - 1.0
        n_new = len(self.new_)
        action = self.address_actions(head)
        stride = np.where(action == NEW, self.new_.decode(head - 1, pos), 0.0)
        dist = np.where(action == REUSE, self.reuse_.decode(head - 1 - n_new, pos), 0.0)
        if self.jump_ is None:  # a model saved before far jumps
            return stack.decode(action, stride, dist, rows[:, 1])
        # far stride buckets land where the trace's far jumps do, and so does a reuse deeper than the
        # stream's stack (a page from before the stream): one destination per row, used by either
        dest = jump_addresses(self.jump_, u)
        far = (action == NEW) & np.isin(head, 1 + self.far_)
        action[far] = JUMP
        stride = np.where(far | (action == REUSE), dest, stride)
        return stack.decode(action, stride, dist, rows[:, 1], beyond=True)

    # -- saved form -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        self._require_fitted()
        return {"format_version": _FORMAT_VERSION, "mode": "typed", "continuous": self.continuous,
                "size_coverage": self.size_coverage, "features": list(self.feature_names),
                "columns": list(self.columns), "time_quantum": self.time_quantum_, "sizes": self.sizes_.tolist(),
                "align": self.align_, "has_latency": self.has_latency_, "has_opcode": self.has_opcode_,
                "encoders": {c: e.to_dict() for c, e in self.encoders.items()}, "locality": self.locality,
                "reuse_buckets": self.reuse_buckets, "lba_range": list(self.lba_range_),
                "sticky": list(self.sticky_),
                **({"new_edges": self.new_.edges.tolist(), "reuse_edges": self.reuse_.edges.tolist()}
                   if self.locality != "none" else {}),
                **({"jump_quantiles": self.jump_.tolist(), "jump_buckets": self.far_.tolist()}
                   if self.jump_ is not None else {}),
                **({"units": self.units_} if self.units_ else {}),
                **({"levels": self.levels_} if self.levels_ else {}),
                **({"phases": self.phases_} if self.phases_ else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TypedTransformer:
        if data.get("format_version") not in _READS or data.get("mode") != "typed":
            raise ModelError(f"typed transformer format_version {data.get('format_version')!r} is not one of {_READS}")
        obj = cls(continuous=data["continuous"], size_coverage=float(data["size_coverage"]),
                  locality=data.get("locality", "none"), reuse_buckets=int(data.get("reuse_buckets", 8)))
        if obj.locality != "none":
            obj.new_, obj.reuse_ = Buckets(data["new_edges"]), Buckets(data["reuse_edges"])
            obj.jump_ = np.array(data["jump_quantiles"], np.int64) if "jump_quantiles" in data else None
            obj.far_ = np.array(data.get("jump_buckets", [0, len(obj.new_) - 1]), np.int64)
        obj.lba_range_ = tuple(int(v) for v in data.get("lba_range", (0, 1, 1, 0, 0)))
        obj.time_quantum_ = float(data["time_quantum"])
        obj.sizes_ = np.array(data["sizes"], np.float64)
        obj.align_ = int(data["align"])
        obj.has_latency_, obj.has_opcode_ = bool(data["has_latency"]), bool(data["has_opcode"])
        obj.units_ = data.get("units")
        obj.encoders = {c: Continuous(e.pop("kind"), e) for c, e in
                        ((c, dict(e)) for c, e in data["encoders"].items())}
        obj.sticky_ = tuple(float(q) for q in data.get("sticky", (0.0,) * len(obj.heads)))
        obj.levels_ = data.get("levels")
        obj.phases_ = data.get("phases")
        return obj


class _LocalityStream(Stream):
    """A stream of a ``locality="lru"`` or ``"lru-pages"`` model: addresses through the LRU stack, then time."""

    def __init__(self, transformer: TypedTransformer, t_start: float, levels: Levels | None = None) -> None:
        super().__init__(transformer, t_start, levels)
        self.stack = transformer.new_stack()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        out = rows[:, :len(ROW_COLUMNS)].copy()
        out[:, 2] = self.transformer.addresses(rows, self.stack)
        return super().__call__(out)
