# shape of sgrvinod's train.py: globals, main() builds both models from a word map read from disk
import json
import os
import torch
from torch import nn
from models import Encoder, DecoderWithAttention

data_folder = '/media/ssd/caption data'
emb_dim = 512
attention_dim = 512
decoder_dim = 512
dropout = 0.5
checkpoint = None


def main():
    global checkpoint
    word_map_file = os.path.join(data_folder, 'WORDMAP_coco.json')
    with open(word_map_file, 'r') as j:
        word_map = json.load(j)
    if checkpoint is None:
        decoder = DecoderWithAttention(attention_dim=attention_dim, embed_dim=emb_dim, decoder_dim=decoder_dim,
                                       vocab_size=len(word_map), dropout=dropout)
        encoder = Encoder()


if __name__ == '__main__':
    main()
