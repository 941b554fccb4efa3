package org.anode.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Labelled images held in memory as bytes, channel-major ({@code [C, H, W]} per image, values
 * 0–255), the way the CIFAR binaries store them: 50,000 CIFAR images take 150 MB.
 */
public final class ImageDataset {
  private final byte[] pixels;
  private final int[] labels;
  private final List<String> classNames;
  private final int channels;
  private final int height;
  private final int width;

  public ImageDataset(
      byte[] pixels, int[] labels, List<String> classNames, int channels, int height, int width) {
    int per = channels * height * width;
    if (pixels.length != labels.length * per) {
      throw new IllegalArgumentException(
          "ImageDataset: "
              + pixels.length
              + " pixel bytes for "
              + labels.length
              + " images of "
              + channels
              + "×"
              + height
              + "×"
              + width);
    }
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= classNames.size()) {
        throw new IllegalArgumentException(
            "ImageDataset: label "
                + labels[i]
                + " of image "
                + i
                + " outside [0, "
                + classNames.size()
                + ")");
      }
    }
    this.pixels = pixels;
    this.labels = labels;
    this.classNames = List.copyOf(classNames);
    this.channels = channels;
    this.height = height;
    this.width = width;
  }

  public int size() {
    return labels.length;
  }

  public int classes() {
    return classNames.size();
  }

  public List<String> classNames() {
    return classNames;
  }

  public int channels() {
    return channels;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  public int imageSize() {
    return channels * height * width;
  }

  public int label(int i) {
    return labels[i];
  }

  /**
   * Image {@code i} as floats in [0, 1], channel-major, written at {@code offset} of {@code dst}.
   */
  public void image(int i, float[] dst, int offset) {
    int per = imageSize();
    int base = i * per;
    for (int k = 0; k < per; k++) {
      dst[offset + k] = (pixels[base + k] & 0xFF) / 255f;
    }
  }

  /** The raw byte of channel {@code c}, row {@code y}, column {@code x} of image {@code i}. */
  public int pixel(int i, int c, int y, int x) {
    return pixels[((i * channels + c) * height + y) * width + x] & 0xFF;
  }

  /** The images at {@code indices}, in that order. */
  public ImageDataset subset(int[] indices) {
    int per = imageSize();
    byte[] p = new byte[indices.length * per];
    int[] l = new int[indices.length];
    for (int k = 0; k < indices.length; k++) {
      System.arraycopy(pixels, indices[k] * per, p, k * per, per);
      l[k] = labels[indices[k]];
    }
    return new ImageDataset(p, l, classNames, channels, height, width);
  }

  /**
   * A seeded sample of {@code n} images balanced across classes (⌊n/K⌋ or ⌈n/K⌉ of each), never
   * just the first n — image folders are sorted by class. The whole set when {@code n} is 0 (the
   * command line's "no limit") or at least {@code size()}.
   */
  public ImageDataset sample(int n, long seed) {
    if (n < 0) {
      throw new IllegalArgumentException("ImageDataset.sample: negative sample size " + n);
    }
    if (n == 0 || n >= size()) {
      return this;
    }
    return subset(balancedIndices(labels, classes(), n, seed));
  }

  /** A set cut in two: what is trained on, and what is held out to choose settings by. */
  public record Split(ImageDataset kept, ImageDataset heldOut) {}

  /**
   * Holds out a seeded, class-balanced sample of {@code n} images ({@link #sample}'s choice for the
   * same seed) and keeps the rest: the held-out images stand in for a test set when settings are
   * chosen, so the real test set is never looked at. {@code n} must leave images to train on.
   */
  public Split split(int n, long seed) {
    if (n <= 0 || n >= size()) {
      throw new IllegalArgumentException(
          "ImageDataset.split: cannot hold out " + n + " of " + size() + " images");
    }
    int[] out = balancedIndices(labels, classes(), n, seed);
    boolean[] taken = new boolean[size()];
    for (int i : out) {
      taken[i] = true;
    }
    int[] kept = new int[size() - out.length];
    for (int i = 0, k = 0; i < size(); i++) {
      if (!taken[i]) {
        kept[k++] = i;
      }
    }
    return new Split(subset(kept), subset(out));
  }

  /** Indices of a seeded, class-balanced sample of {@code n} items with these labels. */
  public static int[] balancedIndices(int[] labels, int classes, int n, long seed) {
    List<List<Integer>> byClass = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      byClass.add(new ArrayList<>());
    }
    for (int i = 0; i < labels.length; i++) {
      byClass.get(labels[i]).add(i);
    }
    SplittableRandom rng = new SplittableRandom(seed);
    for (List<Integer> list : byClass) {
      for (int i = list.size() - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        Integer t = list.get(i);
        list.set(i, list.get(j));
        list.set(j, t);
      }
    }
    int[] out = new int[Math.min(n, labels.length)];
    int k = 0;
    for (int round = 0; k < out.length; round++) {
      for (int c = 0; c < classes && k < out.length; c++) {
        if (round < byClass.get(c).size()) {
          out[k++] = byClass.get(c).get(round);
        }
      }
    }
    java.util.Arrays.sort(out);
    return out;
  }
}
