"""
DETR model and criterion classes (shape of facebookresearch/detr models/detr.py).
"""
import torch
import torch.nn.functional as F
from torch import nn

from util.misc import NestedTensor

from .backbone import build_backbone
from .transformer import build_transformer


class DETR(nn.Module):
    """ This is the DETR module that performs object detection """

    def __init__(self, backbone, transformer, num_classes, num_queries, aux_loss=False):
        super().__init__()
        self.num_queries = num_queries
        self.transformer = transformer
        hidden_dim = transformer.d_model
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)
        self.bbox_embed = MLP(hidden_dim, hidden_dim, 4, 3)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.input_proj = nn.Conv2d(backbone.num_channels, hidden_dim, kernel_size=1)
        self.pos_embed = nn.Parameter(torch.randn(1, hidden_dim, 1, 1) * 0.02)
        self.backbone = backbone
        self.aux_loss = aux_loss

    def forward(self, samples):
        if isinstance(samples, NestedTensor):
            samples = samples.tensors
        features = self.backbone(samples)
        src = self.input_proj(features)
        hs = self.transformer(src, self.query_embed.weight, self.pos_embed.expand_as(src))
        outputs_class = self.class_embed(hs)
        outputs_coord = self.bbox_embed(hs).sigmoid()
        return {'pred_logits': outputs_class, 'pred_boxes': outputs_coord}


class SetCriterion(nn.Module):
    def __init__(self, num_classes, eos_coef):
        super().__init__()
        self.num_classes = num_classes
        empty_weight = torch.ones(self.num_classes + 1)
        empty_weight[-1] = eos_coef
        self.register_buffer('empty_weight', empty_weight)

    def forward(self, outputs, targets):
        return F.cross_entropy(outputs['pred_logits'].transpose(1, 2), targets, self.empty_weight)


class MLP(nn.Module):
    """ Very simple multi-layer perceptron (also called FFN)"""

    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        self.num_layers = num_layers
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < self.num_layers - 1 else layer(x)
        return x


def build(args):
    num_classes = 91 if args.dataset_file != 'coco' else 91
    backbone = build_backbone(args)
    transformer = build_transformer(args)
    model = DETR(backbone, transformer, num_classes=num_classes, num_queries=args.num_queries, aux_loss=args.aux_loss)
    criterion = SetCriterion(num_classes, eos_coef=args.eos_coef)
    postprocessors = {'bbox': None}
    return model, criterion, postprocessors
