"""LSTM language model with tied embeddings, and a model using nn.TransformerEncoder."""

import torch.nn as nn


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab=1000, dim=128, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.drop = nn.Dropout(0.3)
        self.lstm = nn.LSTM(dim, dim, layers, batch_first=True, dropout=0.3)
        self.decoder = nn.Linear(dim, vocab)
        self.decoder.weight = self.embed.weight  # weight tying

    def forward(self, tokens):
        h, _ = self.lstm(self.drop(self.embed(tokens)))
        return self.decoder(self.drop(h))


class TransformerLM(nn.Module):
    def __init__(self, vocab=1000, dim=64):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
        self.out = nn.Linear(dim, vocab)

    def forward(self, tokens):
        return self.out(self.encoder(self.embed(tokens)))
