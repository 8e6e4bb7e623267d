"""Scale-out pieces of the worker: master weights, FSDP2 sharding, the update monitor, DCP checkpoints.

Every module here works the same at world size 1 and N: when `torch.distributed` is initialised
the code shards and reduces over the default group, otherwise it runs on one process unchanged.
"""
