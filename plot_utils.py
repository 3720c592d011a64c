"""Figures: image grids saved as lossless PNG."""
import numpy as np
from PIL import Image

from data.mnist import IMAGE_SIZE


def image_grid(images, n_img_x, n_img_y, resize_factor=1.0):
    """Tile the first n_img_x * n_img_y images (values in [0, 1]) row by row into one greyscale image."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)[:n_img_x * n_img_y]
    side = max(1, int(round(IMAGE_SIZE * resize_factor)))
    grid = Image.new("L", (n_img_x * side, n_img_y * side))
    for i, img in enumerate(images):
        tile = Image.fromarray(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8))
        if side != IMAGE_SIZE:
            tile = tile.resize((side, side), Image.BICUBIC)
        grid.paste(tile, ((i % n_img_x) * side, (i // n_img_x) * side))
    return grid


def save_grid(path, images, n_img_x, n_img_y, resize_factor=1.0):
    """Save an image grid as PNG and return its path."""
    image_grid(images, n_img_x, n_img_y, resize_factor).save(path, format="PNG")
    return path
