# shape of openai/CLIP's README usage: a small CLIP built and called on an image batch and token ids
import torch
from model import CLIP

if __name__ == "__main__":
    model = CLIP(embed_dim=64, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=8,
                 context_length=16, vocab_size=100, transformer_width=64, transformer_heads=4, transformer_layers=2)
    image = torch.randn(2, 3, 32, 32)
    text = torch.randint(0, 100, (2, 16))
    with torch.no_grad():
        logits_per_image, logits_per_text = model(image, text)
        probs = logits_per_image.softmax(dim=-1).cpu().numpy()
    print("Label probs:", probs)
