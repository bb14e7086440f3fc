"""ONNX export of a trace GAN: noise in, rows in real units out (inverse scaling in the graph).

A ``carry_state`` model's graph also takes the LSTM state ``h``, ``c`` and returns the new one
(``h_out``, ``c_out``), so a stream runs block after block through onnxruntime exactly as through
torch; a ``locality="lru"`` model's rows carry the address head's index,
which the stream's LRU stack (outside the graph, shared with torch) turns into LBAs.

For seed and delta models the graph is ``generator -> tanh output -> float64 -> (y + 1) / scale +
min -> expm1 on log1p columns``: everything ``TraceTransformer.inverse_features`` does. For typed
models it is everything ``TypedTransformer.inverse_features`` does: the softmax heads (Gumbel-max
on the noise inputs), argmax of each one-hot group -> the size and opcode tables, each
continuous column's inverse (log, MinMax or quantile interpolation), NaN for absent columns. The one step that cannot live
in a graph of one chunk — delta mode's running sum of inter-arrival times across chunks — is
``TraceTransformer.finish``, applied by ``sample_blocks`` to the torch and the ONNX path alike.
The config and the transformer JSON travel in the model's ``metadata_props``, so a bare
``.onnx`` file is enough to synthesize.

Exporter: the legacy TorchScript exporter (``dynamo=False``). Measured here: it exports the LSTM
in ~0.3 s and needs no extra package; the dynamo exporter needs ``onnxscript`` (not a
dependency) and explicit dynamic shapes.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np

from training.config import ROW_COLUMNS, TraceGANConfig
from training.errors import ModelError
from training.synthesizer import Synthesizer, noise_dim, sample_blocks
from training.transform import TraceTransformer

__all__ = ["export_onnx", "OnnxSynthesizer", "PARITY_ATOL", "OPSET"]

OPSET = 17
# On the [-1, 1] scale of each column (times its span in real units). onnxruntime's float32 LSTM differs
# from torch's by ~1e-7; a calibrated column's rank map (training.calibration) stretches that by its
# slope: 1.1-1.7e-5 of the latency span measured on tiny test models. A wrong graph is off by >1e-2.
PARITY_ATOL = 1e-4
_META_CONFIG, _META_TRANSFORMER = "ganflow.config", "ganflow.transformer"


def _graph_module(synth: Synthesizer):
    """noise -> rows, or with ``carry_state`` (noise, h, c) -> (rows, h, c)."""
    from torch import nn

    rows = _rows_module(synth)

    class Graph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.generator, self.rows = synth.generator, rows

        def forward(self, noise, h=None, c=None):
            if h is None:
                return self.rows(self.generator(noise))
            y, (h, c) = self.generator(noise, (h, c), return_state=True)
            return self.rows(y), h, c

    return Graph().eval()


def _rows_module(synth: Synthesizer):
    import torch
    from torch import nn

    t = synth.transformer
    if t.mode == "typed":
        return _typed_graph(synth)

    class Graph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("inv_scale", torch.tensor(1.0 / t._scale(), dtype=torch.float64))
            self.register_buffer("data_min", torch.tensor(t.data_min_, dtype=torch.float64))
            self.register_buffer("log_mask", torch.tensor(t._log_mask))

        def forward(self, y):
            x = (y.double() + 1.0) * self.inv_scale + self.data_min
            # exp(x) - 1, not expm1: ONNX has no Expm1; the difference is below 1e-15 absolute
            return torch.where(self.log_mask, torch.exp(torch.clamp(x, min=0.0)) - 1.0, x)

    return Graph().eval()


def _typed_graph(synth: Synthesizer):
    import torch
    from torch import nn

    from training.column_codecs import normal_cdf

    t = synth.transformer
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731

    class Continuous(nn.Module):
        def __init__(self, encoder) -> None:
            super().__init__()
            self.kind, p = encoder.kind, encoder.p
            if self.kind in ("quantile", "normal"):
                self.register_buffer("knots", f64(p["knots"]))
            else:
                span = p["max"] - p["min"]
                self.half_span, self.lo = (span / 2.0 if span > 0 else 1.0), p["min"]

        def forward(self, y):
            y = torch.clamp(y, -1.0, 1.0)
            if self.kind in ("quantile", "normal"):
                p = (y + 1.0) * 0.5 if self.kind == "quantile" else normal_cdf(y)
                pos = p * (len(self.knots) - 1)
                i = torch.clamp(torch.floor(pos), 0, len(self.knots) - 2)
                frac = pos - i
                i = i.long()
                return self.knots[i] * (1.0 - frac) + self.knots[i + 1] * frac
            v = (y + 1.0) * self.half_span + self.lo
            return torch.exp(v) - 1.0 if self.kind == "log" else v  # ONNX has no Expm1

    class Graph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.names = t.continuous_names
            self.cont = nn.ModuleList(Continuous(t.encoders[c]) for c in self.names)
            self.register_buffer("sizes", f64(t.sizes_))
            self.k, self.align, self.has_opcode = len(t.sizes_), float(t.align_), t.has_opcode_
            self.lru, self.n_actions = t.locality != "none", t.heads[-1]

        def forward(self, y):
            y = y.double()
            col = {c: m(y[..., j]) for j, (c, m) in enumerate(zip(self.names, self.cont))}
            start = len(self.names)
            idx = torch.argmax(y[..., start:start + self.k + 1], dim=-1)
            other = torch.clamp(torch.round(col["length"] / self.align), min=1.0) * self.align
            length = torch.where(idx < self.k, self.sizes[torch.clamp(idx, max=self.k - 1)], other)
            nan = torch.full_like(length, float("nan"))
            start += self.k + 1
            opcode = torch.argmax(y[..., start:start + 2], dim=-1).double() if self.has_opcode else nan
            out = [col["interarrival"], length, col.get("lba", nan), col.get("latency", nan), opcode]
            if self.lru:  # the address columns the stream's LRU stack decodes (inverse_features)
                start += 2 if self.has_opcode else 0
                action = torch.argmax(y[..., start:start + self.n_actions], dim=-1).double()
                out.append(action)
            return torch.stack(out, dim=-1)

    return Graph().eval()


def export_onnx(synth: Synthesizer, path: str | Path | None = None):
    """Export ``synth`` to an ``onnx.ModelProto`` (checked); also written to ``path`` if given."""
    import onnx
    import torch

    if synth.generator is None or synth.transformer is None:
        raise ModelError("cannot export an unfitted Synthesizer")
    c = synth.config
    module = _graph_module(synth).cpu()
    buf = io.BytesIO()
    args, names, outputs = (torch.zeros(2, c.seq_len, noise_dim(c, synth.transformer)),), ["noise"], ["rows"]
    axes = {"noise": {0: "batch", 1: "steps"}, "rows": {0: "batch", 1: "steps"}}
    if c.carry_state:
        state = torch.zeros(c.num_layers, 2, c.hidden_dim)
        args, names, outputs = (*args, state, state), [*names, "h", "c"], [*outputs, "h_out", "c_out"]
        axes.update({k: {1: "batch"} for k in ("h", "c", "h_out", "c_out")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, input_names=names, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    for key, value in ((_META_CONFIG, json.dumps(c.to_dict())),
                       (_META_TRANSFORMER, json.dumps(synth.transformer.to_dict()))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "ganflow"
    onnx.checker.check_model(model)
    if path is not None:
        from training.utils import atomic_output

        with atomic_output(path, "wb") as fh:
            fh.write(model.SerializeToString())
    return model


class OnnxSynthesizer:
    """Sampling through onnxruntime, with the same noise and post-step as ``Synthesizer``."""

    engine = "onnxruntime"

    def __init__(self, model, *, threads: int = 0) -> None:
        import onnxruntime as ort

        meta = {p.key: p.value for p in model.metadata_props}
        if _META_CONFIG not in meta or _META_TRANSFORMER not in meta:
            raise ModelError("ONNX model lacks ganflow metadata (config, transformer); export it with ganflow")
        self.config = TraceGANConfig.from_dict(json.loads(meta[_META_CONFIG]))
        self.transformer = TraceTransformer.from_dict(json.loads(meta[_META_TRANSFORMER]))
        self.model_bytes = model.SerializeToString()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(self.model_bytes, options, providers=["CPUExecutionProvider"])

    @property
    def columns(self) -> tuple[str, ...]:
        return self.transformer.columns

    @classmethod
    def from_file(cls, path: str | Path, **kw) -> OnnxSynthesizer:
        import onnx
        from google.protobuf.message import DecodeError

        try:
            model = onnx.load(str(path))
        except (OSError, ValueError, DecodeError) as exc:
            raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
        return cls(model, **kw)

    def decode(self, noise: np.ndarray, state=None):
        """As ``Synthesizer.decode``: rows, or ``(rows, state)`` for a ``carry_state`` model."""
        if not self.config.carry_state:
            rows = self.session.run(None, {"noise": noise})[0]
            return rows.reshape(-1, rows.shape[-1])
        c = self.config
        h, cell = state if state is not None else [np.zeros((c.num_layers, len(noise), c.hidden_dim), np.float32)] * 2
        rows, h, cell = self.session.run(None, {"noise": noise, "h": h, "c": cell})
        return rows.reshape(-1, rows.shape[-1]), (h, cell)

    def sample_chunks(self, n_rows: int, *, seed: int = 0, first_block: int = 0, stream: int = 0,
                      t_start: float = 0.0, threads: int = 1):
        return sample_blocks(self.decode, self.transformer, self.config, n_rows, seed=seed,
                             first_block=first_block, stream=stream, t_start=t_start, threads=threads)

    def sample(self, n_rows: int, *, seed: int = 0, stream: int = 0) -> np.ndarray:
        chunks = list(self.sample_chunks(n_rows, seed=seed, stream=stream))
        return np.concatenate(chunks) if chunks else np.empty((0, len(ROW_COLUMNS)))
