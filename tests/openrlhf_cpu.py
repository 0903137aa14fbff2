"""Test-only shims that let OpenRLHF 0.11.2's real `openrlhf.cli.train_sft.train()` run on a CPU, all in one place.

Inside `cpu_openrlhf()` the real DeepspeedStrategy (DeepSpeed, ZeRO stage 0), Actor, SFTTrainer and SFTLoss run;
pass `--ds.attn_implementation eager --ds.zero_stage 0`. Each shim is named for the one thing it replaces:
- CUDA-only spots of OpenRLHF's SFT path: the `flash_attn` import (flash_attn_stub), `torch.cuda.set_device`,
  `torch.cuda.current_device` (cpu_current_device), the "cuda" device mesh (cpu_device_mesh) and
  `torch.cuda.synchronize` (no_cuda_synchronize);
- two DeepSpeed CPU kernels that are compiled on first use, two minutes together on a cold machine (measured): the
  shared-memory all-reduce (DeepSpeed then uses torch.distributed/gloo, as it does off Linux; one process has
  nothing to share) and the fused CPU Adam (torch_adamw_config). They change speed, not the maths.
Use one `cpu_openrlhf()` for all the runs of a process: DeepSpeed keeps its process groups across initialize().
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator
from unittest import mock

import einops
import torch

# Rank 0 of 1 (without these, DeepSpeed's init_distributed asks MPI for the rank), on DeepSpeed's CPU accelerator.
SINGLE_PROCESS_ENV = {
    "RANK": "0",
    "WORLD_SIZE": "1",
    "LOCAL_RANK": "0",
    "MASTER_ADDR": "127.0.0.1",
    "DS_ACCELERATOR": "cpu",
}


def _flash_attn_unavailable(*args, **kwargs):
    raise NotImplementedError("flash_attn stub (tests/openrlhf_cpu.py): packing samples and ring attention need it")


def flash_attn_stub() -> dict[str, object]:
    """Stand-ins for the flash_attn modules openrlhf.models imports at load time (ring_attn_utils: bert_padding,
    utils.distributed). They are only called with --ds.packing_samples or ring attention, so each raises. Each
    module has a real __spec__: transformers' availability probe (find_spec) then answers "not installed" instead
    of raising; `flash_attn.ops` is absent, so log_probs_from_logits takes its pure-torch branch."""
    names = ["flash_attn", "flash_attn.bert_padding", "flash_attn.utils", "flash_attn.utils.distributed"]
    modules = {
        n: importlib.util.module_from_spec(importlib.machinery.ModuleSpec(n, None, is_package=True)) for n in names
    }
    bert_padding = modules["flash_attn.bert_padding"]
    bert_padding.rearrange = einops.rearrange
    bert_padding.index_first_axis = bert_padding.pad_input = bert_padding.unpad_input = _flash_attn_unavailable
    modules["flash_attn.utils.distributed"].all_gather = _flash_attn_unavailable
    return modules


def no_cuda_set_device(device) -> None:
    """DeepspeedStrategy.setup_distributed calls torch.cuda.set_device(local_rank)."""


def cpu_current_device() -> str:
    """DeepspeedStrategy.all_reduce (the trainer's logged metrics) moves CPU tensors to torch.cuda.current_device()."""
    return "cpu"


def no_cuda_synchronize(device=None) -> None:
    """DeepspeedStrategy.save_model ends with torch_dist_barrier_and_cuda_sync(): torch.cuda.synchronize()."""


def cpu_device_mesh(device_type: str, *args, **kwargs):
    """DeepspeedStrategy.setup_distributed builds its ("dp", "sp", "tp") mesh on "cuda"; the same mesh on "cpu"."""
    from torch.distributed.device_mesh import init_device_mesh

    return init_device_mesh("cpu", *args, **kwargs)


def torch_adamw_config(get_train_ds_config):
    """OpenRLHF's DeepSpeed config with DeepSpeed's own `torch_adam` switch on: torch.optim.AdamW in place of
    FusedAdam, whose CPU kernel DeepSpeed compiles on first use. Same AdamW update."""

    def config(*args, **kwargs):
        ds_config = get_train_ds_config(*args, **kwargs)
        if "optimizer" in ds_config:
            ds_config["optimizer"]["params"]["torch_adam"] = True
        return ds_config

    return config


@contextlib.contextmanager
def flash_attn_stubbed() -> Iterator[None]:
    """Within: `import openrlhf.models` works without flash_attn. On exit the stubs leave and what was imported
    stays (patch.dict(sys.modules) would drop every module imported inside, torch's lazily loaded ones too)."""
    stubs = flash_attn_stub()
    sys.modules.update(stubs)
    try:
        yield
    finally:
        for name in stubs:
            sys.modules.pop(name, None)


@contextlib.contextmanager
def cpu_openrlhf(master_port: int) -> Iterator[None]:
    """Within: OpenRLHF's SFT trainer runs on CPU, rank 0 of 1. Undone on exit (the process group is destroyed)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict("os.environ", {**SINGLE_PROCESS_ENV, "MASTER_PORT": str(master_port)}))
        stack.enter_context(flash_attn_stubbed())
        stack.enter_context(mock.patch.object(torch.cuda, "set_device", no_cuda_set_device))
        stack.enter_context(mock.patch.object(torch.cuda, "current_device", cpu_current_device))
        stack.enter_context(mock.patch.object(torch.cuda, "synchronize", no_cuda_synchronize))
        import deepspeed
        import openrlhf.utils.deepspeed.deepspeed as openrlhf_deepspeed

        stack.enter_context(mock.patch.object(openrlhf_deepspeed, "init_device_mesh", cpu_device_mesh))
        stack.enter_context(mock.patch.dict(deepspeed.ops.__compatible_ops__, {"deepspeed_shm_comm": False}))
        config = torch_adamw_config(openrlhf_deepspeed.get_train_ds_config)
        stack.enter_context(mock.patch.object(openrlhf_deepspeed, "get_train_ds_config", config))
        try:
            yield
        finally:
            if torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
