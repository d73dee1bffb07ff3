"""Semi-real scenes for detection and segmentation (issue 6): glyphs (Fashion-MNIST or MNIST)
composited onto crops of the real photographs at random scales, with exact boxes and masks.

A glyph's intensity is its alpha: the scene pixel is ``photo*(1-a) + colour*a`` with one
random colour per object. Its mask is ``a >= MASK_ALPHA`` and its box the mask's tight bounds,
so the labels are exact by construction. Objects may touch but never overlap by more than
``MAX_OVERLAP`` of the smaller box (later objects are re-drawn), so every object stays visible.

Splits are deterministic: photos are split by index (every 5th photo, in
:func:`onebit_train.data.photo_paths` order, is held out) and glyphs by their own train/test
split, so no test photo or glyph is ever seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .data import cache_root, glyphs, photo_paths

MASK_ALPHA = 0.35
MAX_OVERLAP = 0.2
PHOTO_SIDE = 384  # photos are cached downscaled so their short side is this


@dataclass
class Scene:
    image: np.ndarray  # u8 [H, W, 3]
    boxes: np.ndarray  # f32 [K, 4] x1, y1, x2, y2 in pixels (x2, y2 exclusive)
    labels: np.ndarray  # i64 [K] glyph class
    mask: np.ndarray  # u8 [H, W]: 0 background, class + 1 on object pixels


MIN_SIDE = 200  # smaller images (icons, test patterns) are not photographs
HELD_OUT = ("graf",)  # the matching evaluation pair is never trained on


def photo_split(split: str) -> list[Path]:
    """Photos of a split: every 5th usable photo (by sorted path) is ``test``, the rest
    ``train``. Unreadable files and images under ``MIN_SIDE`` pixels are left out, as are
    the matching evaluation images (``graf*``)."""
    usable = []
    for path in photo_paths():
        if path.name.startswith(HELD_OUT):
            continue
        try:
            with Image.open(path) as im:
                im.load()
                if min(im.size) >= MIN_SIDE:
                    usable.append(path)
        except (OSError, SyntaxError, ValueError):
            continue
    assert usable, "no photos in the data cache; run: bash scripts/fetch_data.sh photos"
    return [p for i, p in enumerate(usable) if (i % 5 == 4) == (split == "test")]


def load_photos(split: str) -> list[np.ndarray]:
    """RGB u8 photos of a split, short side ``PHOTO_SIDE``, cached as one .npz per split."""
    cache = cache_root().parent / f"photos-{split}-{PHOTO_SIDE}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return [z[k] for k in sorted(z.files, key=int)]
    photos = []
    for path in photo_split(split):
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = PHOTO_SIDE / min(im.size)
            im = im.resize((max(PHOTO_SIDE, round(im.width * scale)), max(PHOTO_SIDE, round(im.height * scale))),
                           Image.BILINEAR)
            photos.append(np.asarray(im, np.uint8))
    np.savez(cache, **{str(i): p for i, p in enumerate(photos)})
    return photos


class SceneMaker:
    """Draws scenes of ``size`` (H, W) from one photo split and one glyph split."""

    def __init__(self, split: str, glyph_set: str = "fashion", size=(128, 128),
                 objects=(1, 4), glyph_side=(20, 56)):
        self.photos = load_photos(split)
        self.glyphs, self.glyph_labels = glyphs(glyph_set, "train" if split == "train" else "test")
        self.size, self.objects, self.glyph_side = tuple(size), objects, glyph_side

    def scene(self, rng: np.random.Generator) -> Scene:
        h, w = self.size
        photo = self.photos[rng.integers(len(self.photos))]
        # A random crop at a random zoom (0.5..1 of the photo's short side), resized to h x w.
        side = int(min(photo.shape[:2]) * rng.uniform(0.5, 1.0))
        ch, cw = side, min(photo.shape[1], int(side * w / h))
        y0 = rng.integers(photo.shape[0] - ch + 1)
        x0 = rng.integers(photo.shape[1] - cw + 1)
        crop = Image.fromarray(photo[y0:y0 + ch, x0:x0 + cw]).resize((w, h), Image.BILINEAR)
        image = np.asarray(crop, np.float32).copy()
        if rng.random() < 0.5:
            image = image[:, ::-1].copy()
        mask = np.zeros((h, w), np.uint8)
        boxes, labels = [], []
        for _ in range(rng.integers(self.objects[0], self.objects[1] + 1)):
            for _attempt in range(10):
                s = int(rng.integers(self.glyph_side[0], self.glyph_side[1] + 1))
                i = int(rng.integers(len(self.glyphs)))
                alpha = np.asarray(Image.fromarray(self.glyphs[i]).resize((s, s), Image.BILINEAR),
                                   np.float32) / 255
                on = alpha >= MASK_ALPHA
                if not on.any():
                    continue
                ys, xs = np.nonzero(on)
                oy = int(rng.integers(-ys.min(), h - ys.max()))
                ox = int(rng.integers(-xs.min(), w - xs.max()))
                box = np.array([ox + xs.min(), oy + ys.min(), ox + xs.max() + 1, oy + ys.max() + 1], np.float32)
                if any(_overlap(box, b) > MAX_OVERLAP for b in boxes):
                    continue
                # Paste the glyph's s x s window at (oy, ox), clipped to the scene.
                ya, yb = max(0, oy), min(h, oy + s)
                xa, xb = max(0, ox), min(w, ox + s)
                a = alpha[ya - oy:yb - oy, xa - ox:xb - ox, None]
                colour = _contrasting(rng, image[ya:yb, xa:xb].reshape(-1, 3).mean(0))
                image[ya:yb, xa:xb] = image[ya:yb, xa:xb] * (1 - a) + colour * a
                mask[ya:yb, xa:xb][on[ya - oy:yb - oy, xa - ox:xb - ox]] = self.glyph_labels[i] + 1
                boxes.append(box)
                labels.append(int(self.glyph_labels[i]))
                break
        return Scene(np.clip(np.round(image), 0, 255).astype(np.uint8),
                     np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64), mask)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / max(smaller, 1.0))


def _contrasting(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random saturated colour whose brightness differs from the background's by >= 80."""
    for _ in range(20):
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        if abs(colour.mean() - background.mean()) >= 80:
            return colour
    return np.full(3, 255.0 if background.mean() < 128 else 0.0, np.float32)
