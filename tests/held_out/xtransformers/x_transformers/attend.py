import torch
import torch.nn.functional as F
from torch import nn


class Attend(nn.Module):
    def __init__(self, causal=False, dropout=0.):
        super().__init__()
        self.causal = causal
        self.dropout = dropout

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=self.causal,
                                              dropout_p=self.dropout if self.training else 0.)
