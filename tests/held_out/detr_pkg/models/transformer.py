"""
DETR Transformer class (shape of facebookresearch/detr models/transformer.py, on nn.Transformer).
"""
import torch
from torch import nn


class Transformer(nn.Module):
    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1):
        super().__init__()
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                          dropout, batch_first=True)
        self.d_model = d_model
        self.nhead = nhead

    def forward(self, src, query_embed, pos_embed):
        bs = src.shape[0]
        src = src.flatten(2).permute(0, 2, 1)
        pos_embed = pos_embed.flatten(2).permute(0, 2, 1)
        query_embed = query_embed.unsqueeze(0).repeat(bs, 1, 1)
        tgt = torch.zeros_like(query_embed)
        return self.transformer(src + pos_embed, tgt + query_embed)


def build_transformer(args):
    return Transformer(d_model=args.hidden_dim, dropout=args.dropout, nhead=args.nheads,
                       dim_feedforward=args.dim_feedforward, num_encoder_layers=args.enc_layers,
                       num_decoder_layers=args.dec_layers)
