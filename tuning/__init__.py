"""ganflow tuning: Optuna search over the trace GAN (D:G ratio, learning rates, batch size,
seq_len and more) scored by ``val_mmd2`` or the storage scorecard, one nested MLflow run per
trial, on an in-memory, SQLite or PostgreSQL study that many workers share; the best trial's
generator is registered. It imports ``training``, never ``serving``, ``feature_gan`` or
``ganflow``."""
