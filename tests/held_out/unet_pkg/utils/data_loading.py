from torch.utils.data import Dataset


class BasicDataset(Dataset):
    def __init__(self, images_dir, mask_dir, scale=1.0):
        self.images_dir = images_dir
        self.ids = sorted(p for p in __import__("os").listdir(images_dir))

    def __len__(self):
        return len(self.ids)
