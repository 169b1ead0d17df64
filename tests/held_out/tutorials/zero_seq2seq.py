# shape of hunkim/PyTorchZeroToAll 14_1_seq2seq.py: encoder and decoder built at top level from a sibling module
import torch
import torch.nn as nn
from torch import optim
from torch.utils.data import DataLoader
from seq2seq_models import EncoderRNN, DecoderRNN

HIDDEN_SIZE = 32
N_CHARS = 128

encoder = EncoderRNN(N_CHARS, HIDDEN_SIZE)
decoder = DecoderRNN(HIDDEN_SIZE, N_CHARS)
encoder_optimizer = optim.Adam(encoder.parameters(), lr=0.001)
decoder_optimizer = optim.Adam(decoder.parameters(), lr=0.001)

for epoch in range(1, 100):
    for i, (srcs, targets) in enumerate(DataLoader(dataset=TextDataset(), batch_size=1)):
        encoder_hidden = encoder.init_hidden()
        loss = 0
        loss.backward()
