# the UNet alone, called as the README's training step calls it (noisy images and timesteps)
import torch
from denoising_diffusion_pytorch import Unet

if __name__ == "__main__":
    model = Unet(dim=16, dim_mults=(1, 2), channels=1)
    x = torch.randn(4, 1, 16, 16)
    t = torch.randint(0, 1000, (4,))
    out = model(x, t)
    print(out.shape)
