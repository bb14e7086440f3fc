"""ganflow serving: model resolution, writers, batch synthesis (and later ONNX, augmentation)."""
