"""Explicit locality: each request's address as an action on an LRU stack of pages (numba kernels).

Every request is one of

* ``SEQ`` — it starts where the previous request ended (``lba = prev_lba + ceil(prev_bytes / 512)``);
* ``NEW`` — its first 4 KiB page has not been seen; its address is a signed stride in sectors
  from the previous request's end, aligned and wrapped into the training trace's address range;
* ``JUMP`` (decoding only) — a ``NEW`` request whose address is given outright (the typed
  transformer's far jumps: stride buckets whose median stride is far land where the training trace's far jumps
  land, ``training.encodings._jump_table``), aligned and wrapped like a stride;
* ``REUSE`` — its first page has been touched before; the action carries the page's LRU stack
  distance ``d`` (distinct pages touched since; 0 = the previous request's last page; deeper than
  the stack holds, with ``beyond``: a page from before the stream began, placed like a jump) and the
  request starts at the address that last touched that page: a request's own start for its first
  page, for the others the page's start plus the trace's usual offset within a page (``phase``:
  the most common ``lba % 8``, 7 on MSR web0, whose volume is misaligned by a partition offset).

With ``spans=True`` the stack holds every 4 KiB page a request spans, in order (at most
``MAX_PAGES`` a request), as the scorecard's page model and its reuse rate count them: a request
that starts inside an extent read before is a reuse, whichever request touched that page. With
``spans=False`` it holds each request's first page only (interior pages are never reused).

``encode`` turns a real trace into actions, strides and distances; ``Stack.decode`` turns
generated ones back into addresses, keeping the stack outside the network the way the running sum
keeps time. Both walk the same structure: a Fenwick tree over access times holding a 1 at each
page's most recent access, so "distance of page p" is a range count and "page at distance d" a
k-th-one search, O(log n) each; an open-addressing table maps page -> last time. When the time axis fills, the live
entries are renumbered in order (compaction), so a stream of any length runs in memory bounded by
its footprint.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from training.cachesim import MAX_PAGES_PER_REQUEST as MAX_PAGES
from training.cachesim import page_spans

__all__ = ["SEQ", "NEW", "REUSE", "JUMP", "PAGE_SECTORS", "MAX_PAGES", "encode", "stack_distances", "Stack"]

SEQ, NEW, REUSE, JUMP = 0, 1, 2, 3  # JUMP: decode only, a NEW request placed at an address given outright
PAGE_SECTORS = 8  # 4 KiB pages of 512-byte sectors
_MIN_CAPACITY = 2 * MAX_PAGES  # room for the largest request after a compaction


@njit(cache=True)
def _add(tree, i, v):
    i += 1
    while i < len(tree):
        tree[i] += v
        i += i & -i


@njit(cache=True)
def _prefix(tree, i):  # sum of points [0, i)
    s = 0
    while i > 0:
        s += tree[i]
        i -= i & -i
    return s


@njit(cache=True)
def _kth(tree, k):  # index of the k-th one (1-based k), points in time order
    pos, step = 0, 1
    while step * 2 < len(tree):
        step *= 2
    while step > 0:
        nxt = pos + step
        if nxt < len(tree) and tree[nxt] < k:
            pos = nxt
            k -= tree[nxt]
        step //= 2
    return pos


_EMPTY = -1
_MUL = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def _slot(keys, page):
    """Open addressing, linear probing: the slot holding ``page`` or the empty one it would take."""
    mask = len(keys) - 1
    i = np.int64((np.uint64(page) * _MUL) >> np.uint64(40)) & mask
    while keys[i] != _EMPTY and keys[i] != page:
        i = (i + 1) & mask
    return i


@njit(cache=True)
def _touch(tree, keys, vals, addr_at, t, page, lba):
    """Make ``page`` (started at ``lba``) the most recent entry, at time ``t``; True if it is new."""
    i = _slot(keys, page)
    new = keys[i] == _EMPTY
    if new:
        keys[i] = page
    else:
        _add(tree, vals[i], -1)
    _add(tree, t, 1)
    vals[i] = t
    addr_at[t] = lba
    return new


@njit(cache=True)
def _encode(lba, sectors, pages, start, phase, tree, keys, vals, addr_at, action, stride, dist, seq):
    prev_end, now = start, 0
    for t in range(len(lba)):
        page = lba[t] // 8
        i = _slot(keys, page)
        stride[t] = lba[t] - prev_end
        dist[t] = -1
        if seq and t > 0 and lba[t] == prev_end:
            action[t] = 0
        elif keys[i] != _EMPTY:
            action[t] = 2
            dist[t] = _prefix(tree, now) - _prefix(tree, vals[i] + 1)
        else:
            action[t] = 1
        _touch(tree, keys, vals, addr_at, now, page, lba[t])
        for k in range(1, pages[t]):
            _touch(tree, keys, vals, addr_at, now + k, page + k, (page + k) * 8 + phase)
        now += pages[t]
        prev_end = lba[t] + sectors[t]


@njit(cache=True)
def _decode(action, stride, dist, nbytes, bound, out, state, tree, keys, vals, addr_at, lo, hi, align, phase, spans,
            max_pages, beyond):
    """``state`` = [time, prev_end, live pages]; returns the index of the first row not decoded
    (the time axis is full: compact and call again)."""
    t, prev_end, n_live = state[0], state[1], state[2]
    span = hi - lo
    for i in range(len(action)):
        if t + bound[i] > len(addr_at):
            state[0], state[1], state[2] = t, prev_end, n_live
            return i
        a = action[i]
        if a == 3 or (a == 2 and beyond and dist[i] >= n_live):
            # JUMP, or a reuse deeper than the stack (a page from before the stream began): the stride
            # column holds the destination itself
            lba = stride[i]
            lba -= lba % align
        elif a == 2 and n_live > 0:
            d = min(max(dist[i], 0), n_live - 1)
            lba = addr_at[_kth(tree, n_live - d)]
        elif a == 0:
            lba = prev_end
        else:
            lba = prev_end + stride[i]
            lba -= lba % align
        if lba < lo or lba >= hi:  # wrap into the address range, keeping the alignment
            lba = lo + (lba - lo) % span
            lba -= (lba - lo) % align
        page = lba // 8
        pages = min((lba * 512 + nbytes[i] - 1) // 4096 - page + 1, max_pages) if spans else 1
        n_live += 1 if _touch(tree, keys, vals, addr_at, t, page, lba) else 0
        for k in range(1, pages):
            n_live += 1 if _touch(tree, keys, vals, addr_at, t + k, page + k, (page + k) * 8 + phase) else 0
        out[i] = lba
        prev_end = lba + (nbytes[i] + 511) // 512
        t += pages
    state[0], state[1], state[2] = t, prev_end, n_live
    return len(action)


@njit(cache=True)
def _rehash(keys, vals, new_keys, new_vals, remap):
    for i in range(len(keys)):
        if keys[i] != _EMPTY:
            j = _slot(new_keys, keys[i])
            new_keys[j] = keys[i]
            new_vals[j] = remap[vals[i]]


def _table(n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 1 << max(4, int(2 * n - 1).bit_length())  # at most half full
    return np.full(size, _EMPTY, np.int64), np.empty(size, np.int64)


def _bytes(length: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(np.asarray(length, np.float64)), 1).astype(np.int64)


def encode(lba: np.ndarray, length: np.ndarray, start: int, *, phase: int = 0, spans: bool = True,
           seq: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A trace's addresses as ``(action, stride, distance)``: int8 actions, int64 strides in
    sectors from the previous request's end (``start`` before the first), int64 LRU stack
    distances of the first page (-1 where the page is new). ``seq=False`` never says SEQ: every
    request's distance is measured (``stack_distances``)."""
    lba = np.ascontiguousarray(lba, np.int64)
    n = len(lba)
    action, stride, dist = np.empty(n, np.int8), np.empty(n, np.int64), np.empty(n, np.int64)
    nbytes = _bytes(length)
    pages = page_spans(lba, nbytes)[1] if spans else np.ones(n, np.int64)
    total = int(pages.sum())
    keys, vals = _table(total)
    _encode(lba, (nbytes + 511) // 512, pages, np.int64(start), np.int64(phase), np.zeros(total + 2, np.int64), keys, vals,
            np.empty(max(total, 1), np.int64), action, stride, dist, seq)
    return action, stride, dist


def stack_distances(lba: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The LRU stack distance (in pages) of each request's first 4 KiB page (-1: first touch)."""
    lba, length = np.asarray(lba, np.float64), np.asarray(length, np.float64)
    ok = np.isfinite(lba) & np.isfinite(length)
    lba = np.where(ok, np.maximum(lba, 0), 0).astype(np.int64)
    return encode(lba, np.where(ok, length, 512), 0, seq=False)[2]


class Stack:
    """The decoder's state for one stream: the LRU stack, the time, the previous request's end."""

    def __init__(self, start: int, lo: int, hi: int, align: int, *, phase: int = 0, spans: bool = True,
                 capacity: int = 1 << 20) -> None:
        self.lo, self.align, self.phase, self.spans = int(lo), max(int(align), 1), int(phase), bool(spans)
        self.hi = max(int(hi), self.lo + self.align)
        self.state = np.array([0, int(start), 0], np.int64)  # time, previous request's end, live pages
        self.tree = np.zeros(max(capacity, _MIN_CAPACITY) + 1, np.int64)
        self.addr_at = np.empty(len(self.tree) - 1, np.int64)
        self.keys, self.vals = _table(1024)

    def decode(self, action: np.ndarray, stride: np.ndarray, dist: np.ndarray, length: np.ndarray, *,
               beyond: bool = False) -> np.ndarray:
        """Addresses (float64 sectors) of the next requests; ``action`` as in ``encode``. A reuse
        deeper than the stack holds is of its deepest page, or with ``beyond`` of a page from before
        the stream began, at the address its ``stride`` holds (placed like a ``JUMP``): a stream
        starts cold, a real trace's window does not."""
        action = np.ascontiguousarray(action, np.int8)
        stride = np.ascontiguousarray(np.rint(stride), np.int64)
        dist = np.ascontiguousarray(np.rint(dist), np.int64)
        nbytes = _bytes(length)
        bound = np.minimum((nbytes + 4094) // 4096 + 1, MAX_PAGES) if self.spans else np.ones(len(nbytes), np.int64)
        if 2 * (self.state[2] + int(bound.sum())) > len(self.keys):
            self._rebuild(np.arange(len(self.addr_at), dtype=np.int64), self.state[2] + int(bound.sum()))
        out = np.empty(len(action), np.int64)
        done = 0
        while done < len(action):
            done += _decode(action[done:], stride[done:], dist[done:], nbytes[done:], bound[done:], out[done:],
                            self.state, self.tree, self.keys, self.vals, self.addr_at, self.lo, self.hi, self.align,
                            self.phase, self.spans, MAX_PAGES, beyond)
            if done < len(action):
                self._compact()
        return out.astype(np.float64)

    def _rebuild(self, remap: np.ndarray, entries: int) -> None:
        """A hash table for ``entries`` pages, times renumbered by ``remap``."""
        keys, vals = _table(entries)
        _rehash(self.keys, self.vals, keys, vals, remap)
        self.keys, self.vals = keys, vals

    def _compact(self) -> None:
        """Renumber the live entries 0..m-1 in time order; grow the axis if they fill half of it."""
        live = self.keys != _EMPTY
        times = np.sort(self.vals[live])
        m = len(times)
        capacity = len(self.addr_at) * (2 if 2 * m > len(self.addr_at) else 1)
        remap = np.zeros(len(self.addr_at), np.int64)
        remap[times] = np.arange(m)
        addr = self.addr_at[times]
        self._rebuild(remap, len(self.keys) // 2)
        self.addr_at = np.empty(capacity, np.int64)
        self.addr_at[:m] = addr
        count = np.minimum(np.arange(capacity + 1), m)  # points up to each 1-based index
        idx = np.arange(capacity + 1)
        self.tree = count - count[idx - (idx & -idx)]  # a Fenwick tree of m leading ones, in O(n)
        self.state[0] = m
