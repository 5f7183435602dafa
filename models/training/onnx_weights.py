"""Start training from an exported ONNX detector: its weights back into a PyTorch network.

The shipped ``models/phone_detector.onnx`` is the one artefact every checkout has; training
checkpoints live under ``runs/`` and stay on the machine that made them. Reading the ONNX file
back lets a run fine-tune the shipped model (``scanguard train --init-from
models/phone_detector.onnx``) — on new simulated scans or on a site's own annotated ones —
without the checkpoint it was exported from.

The exporter folds every batch norm into the convolution before it (``W' = W * g``,
``b' = beta - mean * g`` with ``g = gamma / sqrt(var + eps)``), so the file holds only the
folded convolutions. :func:`load_onnx_network` puts them back as convolution weights and a batch
norm that adds the folded bias; the network then computes exactly what the ONNX model does.
Training uses batch statistics, though, so :func:`fit_batchnorm` then sets each batch norm's
running statistics to those of real inputs and its scale and shift to undo them: inference is
unchanged, and a training batch like those inputs is normalised to (nearly) the same values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from models.training.errors import CheckpointError
from models.training.lineage import is_onnx_model
from models.training.network import CenterNet, NetworkConfig

__all__ = ["fit_batchnorm", "is_onnx_model", "load_onnx_network", "onnx_network_config"]

logger = logging.getLogger(__name__)

_STAGES = ("s4", "s8", "s16", "s32")


def _module_path(node_name: str) -> str:
    """``/net/s4/s4.0/dw/dw.0/Conv`` -> ``s4.0.dw.0``, the conv's name in :class:`CenterNet`."""
    parts = [p for p in node_name.split("/") if p][:-1]
    if parts and parts[0] == "net":
        parts = parts[1:]
    path, prev = "", ""
    for part in parts:
        if prev and part.startswith(prev + "."):
            path += part[len(prev) :]
        else:
            path = f"{path}.{part}" if path else part
        prev = part
    return path


def _read_convs(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Every convolution of the exported graph: module path -> (weight, bias)."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"no ONNX model at {str(path)!r}; check the --init-from path"
        ) from exc
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise CheckpointError(
            f"{str(path)!r} is not a readable ONNX model ({type(exc).__name__}: {exc}); "
            "use an .onnx file written by `scanguard train` or a training checkpoint (.pt)"
        ) from exc
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        ins = list(node.input)
        if len(ins) < 2 or ins[1] not in inits:
            raise CheckpointError(
                f"{str(path)!r}: convolution {node.name!r} has no stored weight; it was not "
                "exported by `scanguard train` (re-export it, or start from a checkpoint)"
            )
        bias = inits.get(ins[2]) if len(ins) > 2 else None
        convs[_module_path(node.name)] = (inits[ins[1]], bias)
    if not convs:
        raise CheckpointError(f"{str(path)!r} holds no convolutions; it is not a detector export")
    return convs


def _out_channels(convs: dict[str, tuple[np.ndarray, np.ndarray | None]], name: str) -> int:
    if name not in convs:
        raise CheckpointError(
            f"the ONNX model has no layer {name!r}; it was not exported from this detector's "
            "network (start from a training checkpoint instead)"
        )
    return int(convs[name][0].shape[0])


def onnx_network_config(path: str | Path) -> NetworkConfig:
    """The :class:`NetworkConfig` an exported detector was built with, read off its layer shapes.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable or not an export of :class:`CenterNet`.
    """
    convs = _read_convs(Path(path))
    return _config(convs)


def _config(convs: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> NetworkConfig:
    widths = [_out_channels(convs, "stem.0")]
    depths = []
    for stage in _STAGES:
        widths.append(_out_channels(convs, f"{stage}.0.pw.0"))
        blocks = {k.split(".")[1] for k in convs if k.startswith(stage + ".")}
        depths.append(len(blocks) - 1)
    try:
        return NetworkConfig(
            num_classes=_out_channels(convs, "heatmap.5"),
            widths=tuple(widths),  # type: ignore[arg-type]
            depths=tuple(depths),  # type: ignore[arg-type]
            neck=_out_channels(convs, "lateral.0.0"),
            head=_out_channels(convs, "heatmap.2"),
            stride=2 if "lateral2.0" in convs else 4,
        )
    except ValueError as exc:
        raise CheckpointError(f"the ONNX model's layers do not form a detector: {exc}") from exc


def load_onnx_network(path: str | Path) -> CenterNet:
    """A :class:`CenterNet` (eval mode) computing exactly what the exported model at ``path`` does.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file written by the export stage (``models/phone_detector.onnx``).

    Returns
    -------
    CenterNet
        Folded convolution weights, each batch norm set to add the folded bias (unit scale,
        zero mean, unit variance). Call :func:`fit_batchnorm` before training it.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, or its layers do not match the network.
    """
    path = Path(path)
    convs = _read_convs(path)
    net = CenterNet(_config(convs)).eval()
    modules = dict(net.named_modules())
    torch_convs = {n for n, m in modules.items() if isinstance(m, nn.Conv2d)}
    if set(convs) != torch_convs:
        extra, missing = sorted(set(convs) - torch_convs), sorted(torch_convs - set(convs))
        raise CheckpointError(
            f"{str(path)!r} has other layers than the detector network (unexpected {extra[:3]}, "
            f"missing {missing[:3]}); it was not exported by this version of `scanguard train`"
        )
    with torch.no_grad():
        for name, (weight, bias) in convs.items():
            conv = modules[name]
            assert isinstance(conv, nn.Conv2d)
            if tuple(conv.weight.shape) != weight.shape:
                raise CheckpointError(
                    f"{str(path)!r}: layer {name} has weights {weight.shape}, the network "
                    f"{tuple(conv.weight.shape)}; the file is not a detector export"
                )
            conv.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
            folded = (
                torch.zeros(conv.out_channels)
                if bias is None
                else torch.from_numpy(bias.astype(np.float32))
            )
            norm = _following_batchnorm(modules, name)
            if norm is None:
                if conv.bias is None:
                    raise CheckpointError(f"{str(path)!r}: layer {name} has nowhere for its bias")
                conv.bias.copy_(folded)
                continue
            norm.running_mean.zero_()  # type: ignore[union-attr]
            norm.running_var.fill_(1.0)  # type: ignore[union-attr]
            norm.weight.fill_(float(np.sqrt(1.0 + norm.eps)))
            norm.bias.copy_(folded)
    logger.info("read %d layers of %s into a %s network", len(convs), path, net.config)
    return net


def _following_batchnorm(modules: dict[str, nn.Module], conv_name: str) -> nn.BatchNorm2d | None:
    """The batch norm that directly follows ``conv_name`` in its ``nn.Sequential``, if any."""
    parent_name, _, index = conv_name.rpartition(".")
    parent = modules.get(parent_name)
    if not isinstance(parent, nn.Sequential) or not index.isdigit():
        return None
    following = int(index) + 1
    if following < len(parent) and isinstance(parent[following], nn.BatchNorm2d):
        return parent[following]  # type: ignore[return-value]
    return None


def fit_batchnorm(net: CenterNet, inputs: Iterable[Tensor]) -> int:
    """Re-express each batch norm of ``net`` in the statistics of ``inputs``, inference unchanged.

    For each batch norm, the per-channel mean ``m`` and variance ``v`` of its input over
    ``inputs`` become its running statistics, and its scale and shift become ``sqrt(v + eps)``
    times and ``m`` plus the old ones, so ``net.eval()`` computes what it did before while
    training mode (batch statistics) starts close to it.

    Parameters
    ----------
    net : CenterNet
        A network from :func:`load_onnx_network` (running statistics zero mean, unit variance).
    inputs : iterable of Tensor, each shape (N, 1, H, W)
        Training-like inputs (crops as the sampler draws them).

    Returns
    -------
    int
        Number of batch norms refitted.
    """
    norms = {n: m for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)}
    sums: dict[str, list[Tensor]] = {n: [] for n in norms}
    counts: dict[str, int] = dict.fromkeys(norms, 0)

    def hook(name: str):  # type: ignore[no-untyped-def]
        def record(_module: nn.Module, args: tuple[Tensor, ...], _out: Tensor) -> None:
            x = args[0].detach().double()
            n = x.shape[0] * x.shape[2] * x.shape[3]
            s1, s2 = x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3))
            if sums[name]:
                sums[name][0] += s1
                sums[name][1] += s2
            else:
                sums[name] = [s1, s2]
            counts[name] += n

        return record

    was_training = net.training
    net.eval()
    handles = [m.register_forward_hook(hook(n)) for n, m in norms.items()]
    try:
        with torch.no_grad():
            for x in inputs:
                net(x)
    finally:
        for h in handles:
            h.remove()
    fitted = 0
    with torch.no_grad():
        for name, norm in norms.items():
            if counts[name] == 0:
                continue
            s1, s2 = sums[name]
            mean = s1 / counts[name]
            var = (s2 / counts[name] - mean * mean).clamp_min(0.0)
            # current eval map: y = (x - mu) / sqrt(var0 + eps) * w + b; keep it, new mu and var
            scale = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)  # type: ignore[union-attr]
            shift = norm.bias.double() - norm.running_mean.double() * scale  # type: ignore[union-attr]
            new_std = torch.sqrt(var + norm.eps)
            norm.running_mean.copy_(mean)  # type: ignore[union-attr]
            norm.running_var.copy_(var)  # type: ignore[union-attr]
            norm.weight.copy_(scale * new_std)
            norm.bias.copy_(shift + mean * scale)
            fitted += 1
    net.train(was_training)
    return fitted
