"""VGG-16 on the IDR frame, with state-dict keys identical to torchvision's ``vgg16`` so that a
local ImageNet weights file loads without torchvision or a download."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ._layers import init_output_layer

# torchvision's configuration "D": numbers are conv widths, "M" a 2x2 max-pool.
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
HEAD_KEYS = ("classifier.6.weight", "classifier.6.bias")


class SpatialVGG16(nn.Module):
    """VGG-16 (torchvision layout: ``features.N``, ``avgpool``, ``classifier.{0,3,6}``) with a
    ``num_classes`` head. ReLU activations are kept (not PReLU) so ImageNet weights stay valid;
    dropout 0.5 on the two hidden fc layers; He initialisation when not loaded."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        in_ch = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_ch = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        init_output_layer(self.classifier[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"SpatialVGG16 expects input (B, 3, H, W), got {tuple(x.shape)}")
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    def load_pretrained(self, path: str | Path) -> "SpatialVGG16":
        """Load a local torchvision-layout VGG-16 state dict (e.g. ImageNet weights saved with
        ``torch.save(vgg16().state_dict(), path)``). The file's classifier head is used only
        when its class count equals ``num_classes``; otherwise this model's own head is kept.
        Raises FileNotFoundError for a missing file and ValueError for mismatched keys/shapes."""
        return self._load_checked(_read_state_dict(path), path)

    def _load_checked(self, state: dict, path) -> "SpatialVGG16":
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"{path}: not a torchvision vgg16 state dict; missing keys {missing[:8]}"
                             f"{' ...' if len(missing) > 8 else ''}, unexpected keys {unexpected[:8]}"
                             f"{' ...' if len(unexpected) > 8 else ''}")
        head_matches = tuple(state["classifier.6.weight"].shape) == tuple(own["classifier.6.weight"].shape)
        bad = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
               for k in own if k not in HEAD_KEYS and tuple(state[k].shape) != tuple(own[k].shape)]
        if bad:
            raise ValueError(f"{path}: tensor shapes differ from vgg16: {bad[:4]}")
        if not head_matches:
            state = {k: v for k, v in state.items() if k not in HEAD_KEYS}
        self.load_state_dict(state, strict=head_matches)
        return self


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a file that is not a checkpoint
        raise ValueError(f"{path}: cannot read as a torch state dict ({e})") from e
    for key in ("state_dict", "model"):  # common wrappers around a bare state dict
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: does not hold a state dict of tensors")
    # Strip a DataParallel/DDP "module." prefix so such files load too.
    return {k[7:] if k.startswith("module.") else k: v for k, v in obj.items()}


def load_pretrained(path: str | Path, num_classes: int = 1000) -> SpatialVGG16:
    """A SpatialVGG16 with ``num_classes`` outputs whose weights come from a local torchvision
    vgg16 state-dict file (the ImageNet head is replaced by a fresh one when the counts differ)."""
    state = _read_state_dict(path)  # before building the model: a bad file fails fast
    return SpatialVGG16(num_classes)._load_checked(state, path)
