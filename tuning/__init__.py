"""ganflow tuning: Optuna search over the trace GAN (arrives with the tuning issue)."""
