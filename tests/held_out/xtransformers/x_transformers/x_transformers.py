# shape of lucidrains/x-transformers x_transformers/x_transformers.py: the package imports itself absolutely
import torch
from torch import nn
import torch.nn.functional as F
from einops import rearrange

from x_transformers.attend import Attend


def exists(val):
    return val is not None


class Attention(nn.Module):
    def __init__(self, dim, heads=8, dim_head=64, causal=False):
        super().__init__()
        self.heads = heads
        inner = dim_head * heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.attend = Attend(causal=causal)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x):
        q = self.to_q(x)
        k, v = self.to_kv(x).chunk(2, dim=-1)
        q, k, v = (rearrange(t, 'b n (h d) -> b h n d', h=self.heads) for t in (q, k, v))
        out = self.attend(q, k, v)
        return self.to_out(rearrange(out, 'b h n d -> b n (h d)'))


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))

    def forward(self, x):
        return self.net(x)


class AttentionLayers(nn.Module):
    def __init__(self, dim, depth, heads=8, causal=False, **kwargs):
        super().__init__()
        self.dim = dim
        self.depth = depth
        self.layers = nn.ModuleList([])
        for _ in range(depth):
            self.layers.append(nn.ModuleList([nn.LayerNorm(dim), Attention(dim, heads=heads, causal=causal)]))
            self.layers.append(nn.ModuleList([nn.LayerNorm(dim), FeedForward(dim)]))
        self.final_norm = nn.LayerNorm(dim)

    def forward(self, x, mask=None):
        for norm, block in self.layers:
            x = block(norm(x)) + x
        return self.final_norm(x)


class Encoder(AttentionLayers):
    def __init__(self, **kwargs):
        super().__init__(causal=False, **kwargs)


class Decoder(AttentionLayers):
    def __init__(self, **kwargs):
        super().__init__(causal=True, **kwargs)


class TransformerWrapper(nn.Module):
    def __init__(self, *, num_tokens, max_seq_len, attn_layers, emb_dropout=0.):
        super().__init__()
        dim = attn_layers.dim
        self.max_seq_len = max_seq_len
        self.num_tokens = num_tokens
        self.token_emb = nn.Embedding(num_tokens, dim)
        self.pos_emb = nn.Embedding(max_seq_len, dim)
        self.emb_dropout = nn.Dropout(emb_dropout)
        self.attn_layers = attn_layers
        self.to_logits = nn.Linear(dim, num_tokens)

    def forward(self, x, return_embeddings=False, mask=None):
        b, n = x.shape
        pos = torch.arange(n, device=x.device)
        x = self.token_emb(x) + self.pos_emb(pos)
        x = self.attn_layers(self.emb_dropout(x), mask=mask)
        if return_embeddings:
            return x
        return self.to_logits(x)
