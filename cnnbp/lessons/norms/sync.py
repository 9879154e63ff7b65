"""SyncBatchNorm, simulated on one machine.

Data-parallel training splits a batch of B images over K devices. Plain BatchNorm then
normalises each device's B/K images with their own mean and variance (noisy when B/K is small);
SyncBatchNorm has every device share its (count, mean, variance) and normalises all of them
with the whole batch's statistics, as if one device held the batch.

:class:`SimulatedDevicesBN2d` does both on one tensor: the batch is cut into K chunks (one per
simulated device); each computes its local statistics; ``sync=True`` combines them as
SyncBatchNorm gathers them (counts, means, variances -> the pooled mean and variance, Chan et
al.'s parallel formula), so the result equals whole-batch BatchNorm to float rounding.

Running statistics: synchronised, from the pooled ones; per-device, from device 0's, because
DistributedDataParallel broadcasts rank 0's buffers to every replica before each forward.

>>> bn = SimulatedDevicesBN2d(3, devices=2, sync=True)
>>> x = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(0))
>>> bool(torch.allclose(bn(x), torch.nn.functional.batch_norm(x, None, None, training=True), atol=1e-6))
True
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from torch import nn

from cnnbp.device import derive_seed, make_generator

# Fixed before any run: float32 rounding (~100 ulps), relative to the largest value compared.
SYNC_TOLERANCE = 1e-5
NOISE_BATCHES = 8  # batches the statistics' noise is averaged over


def local_statistics(chunk: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(count, mean (C,), biased variance (C,)) of one device's (n, C, H, W) chunk."""
    count = chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    return count, chunk.mean((0, 2, 3)), chunk.var((0, 2, 3), unbiased=False)


def pooled_statistics(stats: list[tuple[int, torch.Tensor, torch.Tensor]]) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Combine per-device (count, mean, biased var) into the whole batch's (Chan et al.):
    mean = sum n_k m_k / n;  var = sum n_k (v_k + (m_k - mean)^2) / n."""
    total = sum(n for n, _, _ in stats)
    mean = sum(n * m for n, m, _ in stats) / total
    var = sum(n * (v + (m - mean) ** 2) for n, m, v in stats) / total
    return total, mean, var


def split_devices(x: torch.Tensor, devices: int) -> list[torch.Tensor]:
    """The batch cut into ``devices`` near-equal chunks (fewer if the batch is smaller)."""
    return [c for c in x.tensor_split(devices) if c.shape[0]]


class SimulatedDevicesBN2d(nn.Module):
    """BatchNorm2d over a batch split across ``devices`` simulated devices; ``sync``: the
    statistics are shared (SyncBatchNorm), else each device uses its own."""

    def __init__(self, channels: int, *, devices: int, sync: bool, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if devices < 1:
            raise ValueError(f"devices must be >= 1, got {devices}")
        self.devices, self.sync, self.eps, self.momentum = devices, sync, eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def _normalise(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return x_hat * self.weight.view(shape) + self.bias.view(shape)

    def _update_running(self, count: int, mean: torch.Tensor, var: torch.Tensor) -> None:
        unbiased = var * count / max(count - 1, 1)  # BatchNorm keeps the unbiased variance
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(unbiased.detach(), self.momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                training=False, eps=self.eps)
        if x.shape[0] % self.devices == 0:
            return self._forward_equal(x)
        return self._forward_chunks(x)

    def _forward_chunks(self, x: torch.Tensor) -> torch.Tensor:
        """Device by device, chunks of any size: the reference reading."""
        chunks = split_devices(x, self.devices)
        stats = [local_statistics(c) for c in chunks]
        if self.sync:
            count, mean, var = pooled_statistics(stats)  # the "all-gather" of SyncBatchNorm
            self._update_running(count, mean, var)
            return torch.cat([self._normalise(c, mean, var) for c in chunks])
        self._update_running(*stats[0])  # device 0's buffers win (DDP broadcasts them)
        return torch.cat([self._normalise(c, m, v) for c, (_, m, v) in zip(chunks, stats)])

    def _forward_equal(self, x: torch.Tensor) -> torch.Tensor:
        """The same when every device holds N / K images, all devices at once (one op per
        statistic instead of one per device: 16 devices cost no more than one)."""
        n, c, h, w = x.shape
        k = self.devices
        xs = x.reshape(k, n // k, c, h, w)  # (K, N/K, C, H, W): one row per device
        means, variances = xs.mean((1, 3, 4)), xs.var((1, 3, 4), unbiased=False)  # (K, C) each
        count = n // k * h * w
        if self.sync:  # equal counts: the pooled formula with weights 1/K
            mean = means.mean(0)
            var = (variances + (means - mean) ** 2).mean(0)
            self._update_running(count * k, mean, var)
            return self._normalise(x, mean, var)
        self._update_running(count, means[0], variances[0])
        shape = (k, 1, c, 1, 1)
        x_hat = (xs - means.view(shape)) / torch.sqrt(variances.view(shape) + self.eps)
        return (x_hat.reshape(n, c, h, w) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1))


def statistics_noise(features: torch.Tensor, *, devices: int) -> dict[str, float]:
    """How far per-device statistics stray from the whole batch's, per channel, in units of
    the whole batch's std: the root-mean-square over devices and channels of (m_k - m) / s and
    of (s_k - s) / s. ``features``: (B, C, H, W) of one batch."""
    _, mean, var = local_statistics(features)
    std = var.sqrt().clamp_min(1e-12)
    mean_err, std_err = [], []
    for chunk in split_devices(features, devices):
        _, m, v = local_statistics(chunk)
        mean_err.append((m - mean) / std)
        std_err.append((v.sqrt() - std) / std)
    rms = lambda e: float(torch.stack(e).pow(2).mean().sqrt())  # noqa: E731
    return {"mean_error": rms(mean_err), "std_error": rms(std_err),
            "per_device_batch": features.shape[0] / devices}


def noise_by_devices(batches: torch.Tensor, device_counts: list[int]) -> list[dict]:
    """Per device count (1 = the whole batch, always included), the per-device statistics'
    error of :func:`statistics_noise`, averaged over ``batches`` (batches, B, C, H, W)."""
    out = []
    for k in sorted({1, *device_counts}):
        per_batch = [statistics_noise(f, devices=k) for f in batches]
        out.append({"devices": k, "per_device_batch": batches.shape[1] / k,
                    "mean_error": statistics.fmean(p["mean_error"] for p in per_batch),
                    "std_error": statistics.fmean(p["std_error"] for p in per_batch), "batches": len(per_batch)})
    return out


def check_against_batchnorm(x: torch.Tensor, *, devices: int, seed: int) -> dict:
    """The synchronised simulation over ``devices`` vs PyTorch's whole-batch BatchNorm2d on one
    batch ``x``: max abs differences of the output, the input gradient and the running
    statistics, each also relative to the largest value it is compared with."""
    x = x.clone().requires_grad_(True)
    sim, ref = SimulatedDevicesBN2d(x.shape[1], devices=devices, sync=True), nn.BatchNorm2d(x.shape[1])
    upstream = torch.randn(x.shape, generator=make_generator(derive_seed(seed, "sync-check")))
    a, b = sim(x), ref(x)
    (ga,) = torch.autograd.grad((a * upstream).sum(), x)
    (gb,) = torch.autograd.grad((b * upstream).sum(), x)
    pairs = {"output": (a.detach(), b.detach()), "input_gradient": (ga, gb),
             "running_mean": (sim.running_mean, ref.running_mean), "running_var": (sim.running_var, ref.running_var)}
    diffs = {k: float((p - q).abs().max()) for k, (p, q) in pairs.items()}
    # float tolerance is relative: the difference over the largest value it is compared with
    relative = {k: diffs[k] / max(float(q.abs().max()), 1e-30) for k, (_, q) in pairs.items()}
    return {"devices": devices, "max_abs_diff": diffs, "relative_diff": relative, "tolerance": SYNC_TOLERANCE,
            "equal": all(d <= SYNC_TOLERANCE for d in relative.values())}
