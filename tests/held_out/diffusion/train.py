# shape of the lucidrains/denoising-diffusion-pytorch README: model and diffusion at top level, then a Trainer
import torch
from denoising_diffusion_pytorch import Unet, GaussianDiffusion

model = Unet(
    dim=16,
    dim_mults=(1, 2)
)

diffusion = GaussianDiffusion(
    model,
    image_size=32,
    timesteps=100
)

trainer = Trainer(
    diffusion,
    'path/to/your/images',
    train_batch_size=32,
    train_lr=8e-5,
    train_num_steps=700000,
)
trainer.train()
