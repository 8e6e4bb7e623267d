"""Training objectives on per-token log-probs: SFT cross-entropy (sft.py), the PPO-clip policy
gradient (pg.py), reverse-KL distillation estimators (kl.py, distill.py), and the chunked
log-prob helpers they share (logprobs.py)."""
