package org.anode.data;

import java.util.SplittableRandom;

/**
 * The CIFAR training transform of the ANODE reference: random 32×32 crop of the image padded by 4
 * zeros on each side, random horizontal flip, then per-channel normalization with mean (0.4914,
 * 0.4822, 0.4465) and std (0.2023, 0.1994, 0.2010). Evaluation uses the normalization only.
 */
public record Augmentation(int padding, boolean flip, float[] mean, float[] std) {

  public static final float[] CIFAR_MEAN = {0.4914f, 0.4822f, 0.4465f};
  public static final float[] CIFAR_STD = {0.2023f, 0.1994f, 0.2010f};

  /** Crop with padding 4, flips, CIFAR normalization. */
  public static Augmentation cifarTraining() {
    return new Augmentation(4, true, CIFAR_MEAN, CIFAR_STD);
  }

  /** CIFAR normalization only. */
  public static Augmentation cifarEvaluation() {
    return new Augmentation(0, false, CIFAR_MEAN, CIFAR_STD);
  }

  /** Writes image {@code i} of {@code data}, transformed, at {@code offset} of {@code dst}. */
  public void apply(ImageDataset data, int i, SplittableRandom rng, float[] dst, int offset) {
    int c = data.channels();
    int h = data.height();
    int w = data.width();
    int dy = padding > 0 ? rng.nextInt(2 * padding + 1) - padding : 0;
    int dx = padding > 0 ? rng.nextInt(2 * padding + 1) - padding : 0;
    boolean mirror = flip && rng.nextBoolean();
    for (int ch = 0; ch < c; ch++) {
      float m = mean[ch];
      float s = std[ch];
      for (int y = 0; y < h; y++) {
        int sy = y + dy;
        for (int x = 0; x < w; x++) {
          int sx = (mirror ? w - 1 - x : x) + dx;
          float v = sy < 0 || sy >= h || sx < 0 || sx >= w ? 0f : data.pixel(i, ch, sy, sx) / 255f;
          dst[offset + (ch * h + y) * w + x] = (v - m) / s;
        }
      }
    }
  }
}
