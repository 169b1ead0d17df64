"""A model taking an unannotated `hparams` object; the file defines one config class."""
import torch.nn as nn


class HParams:
    def __init__(self, n_mels=40, hidden=48, n_classes=6, dropout=0.1):
        self.n_mels = n_mels
        self.hidden = hidden
        self.n_classes = n_classes
        self.dropout = dropout


class KeywordSpotter(nn.Module):
    def __init__(self, hparams):
        super().__init__()
        self.rnn = nn.GRU(hparams.n_mels, hparams.hidden, batch_first=True)
        self.drop = nn.Dropout(hparams.dropout)
        self.out = nn.Linear(hparams.hidden, hparams.n_classes)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(self.drop(y[:, -1]))
