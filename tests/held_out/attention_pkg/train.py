'''
This script handles the training process (shape of jadore801120/attention-is-all-you-need-pytorch train.py):
the vocabulary sizes are set on opt by the data loading.
'''
import argparse
import pickle
import torch
import torch.optim as optim
import transformer.Constants as Constants
from transformer.Models import Transformer


def prepare_dataloaders_from_bpe_files(opt, device):
    data = pickle.load(open(opt.data_pkl, 'rb'))
    opt.max_token_seq_len = 100
    opt.src_pad_idx = data['vocab'].stoi[Constants.PAD_WORD]
    opt.trg_pad_idx = data['vocab'].stoi[Constants.PAD_WORD]
    opt.src_vocab_size = len(data['vocab'])
    opt.trg_vocab_size = len(data['vocab'])
    return None, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-data_pkl', default=None)
    parser.add_argument('-epoch', type=int, default=10)
    parser.add_argument('-d_model', type=int, default=512)
    parser.add_argument('-n_layers', type=int, default=6)
    opt = parser.parse_args()
    device = torch.device('cpu')
    training_data, validation_data = prepare_dataloaders_from_bpe_files(opt, device)
    transformer = Transformer(
        opt.src_vocab_size,
        opt.trg_vocab_size,
        src_pad_idx=opt.src_pad_idx,
        trg_pad_idx=opt.trg_pad_idx,
        d_model=opt.d_model,
        n_layers=opt.n_layers).to(device)
    optimizer = optim.Adam(transformer.parameters(), betas=(0.9, 0.98), eps=1e-09)


if __name__ == '__main__':
    main()
