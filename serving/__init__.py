"""ganflow serving, the trace GAN's: model resolution on an engine (``registry``: the ``Sampler``
protocol, torch or onnxruntime), trace writers, batch synthesis over streams and worker
processes, ONNX export with a parity check, and side-by-side comparison of runs. It imports
``training``, never ``tuning``, ``feature_gan`` or ``ganflow``."""
