"""Writes convolution_backward.pt: a TorchScript module whose forward is aten's convolution
backward, for the DJL backend (DJL has no NDArray op for it). Run with Debian's python3-torch:
python3 conv_backward.py OUT.pt"""
import sys
from typing import List, Tuple

import torch
from torch import Tensor


class ConvolutionBackward(torch.nn.Module):
    def forward(self, grad_out: Tensor, x: Tensor, w: Tensor, stride: List[int],
                padding: List[int], dilation: List[int], groups: int, want_input: bool,
                want_weight: bool) -> Tuple[Tensor, Tensor]:
        gx, gw, _ = torch.ops.aten.convolution_backward(
            grad_out, x, w, None, stride, padding, dilation, False, [0, 0], groups,
            [want_input, want_weight, False])
        if not want_input:
            gx = torch.empty(0, dtype=x.dtype)
        if not want_weight:
            gw = torch.empty(0, dtype=w.dtype)
        return gx, gw


torch.jit.script(ConvolutionBackward()).save(sys.argv[1])
