"""mgsd's PyTorch backend: a worker that holds models and runs every forward, backward and KL step
for the TypeScript orchestrator, over ZeroMQ with Arrow-encoded tensors (docs/protocol.md)."""

__version__ = "0.1.0"
