"""Shape of the char-rnn language models: embedding, two-layer LSTM, a vocabulary head,
Adam(lr=2e-3), cross-entropy on the next character, no clipping."""

import torch
import torch.nn as nn

VOCAB = 96
SEQ_LEN = 64


class CharLSTM(nn.Module):
    def __init__(self, vocab=VOCAB, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, 64)
        self.lstm = nn.LSTM(64, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


model = CharLSTM()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()


def train(batches):
    for x, y in batches:
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits.reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        optimizer.step()
