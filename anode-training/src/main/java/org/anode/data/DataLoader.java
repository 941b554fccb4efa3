package org.anode.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Batches of an {@link ImageDataset}: shuffled with a seed per epoch (the same seed and epoch give
 * the same order and the same augmentations, each image's drawn from its own position), transformed
 * by an {@link Augmentation}, and prepared on a background thread two batches ahead, so that the
 * backend never waits on decoding.
 */
public final class DataLoader {
  private final ImageDataset data;
  private final int batchSize;
  private final boolean shuffle;
  private final Augmentation augmentation;
  private final long seed;

  /** One batch: images {@code [n, C, H, W]} as floats, and their labels. */
  public record Batch(float[] images, int[] labels, int size) {}

  public DataLoader(
      ImageDataset data, int batchSize, boolean shuffle, Augmentation augmentation, long seed) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("DataLoader: batch size must be >= 1, got " + batchSize);
    }
    this.data = data;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.augmentation = augmentation;
    this.seed = seed;
  }

  public ImageDataset data() {
    return data;
  }

  public int batchSize() {
    return batchSize;
  }

  /** Batches per epoch (the last one may be smaller). */
  public int batches() {
    return (data.size() + batchSize - 1) / batchSize;
  }

  /** The batches of {@code epoch}, prepared in the background; close it to stop early. */
  public Epoch epoch(int epoch) {
    return new Epoch(epoch);
  }

  /**
   * The order in which {@code epoch} visits the images: a permutation seeded by the loader's seed
   * and the epoch when shuffling, else 0, 1, 2, …
   */
  public int[] order(int epoch) {
    int[] order = new int[data.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    if (shuffle) {
      SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + epoch);
      for (int i = order.length - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    return order;
  }

  /**
   * The images at positions {@code [from, to)} of {@code order} (an epoch's {@link #order}) as one
   * batch. Each image is augmented with random numbers of its own, drawn from the seed, the epoch
   * and its position in the epoch: a part of a batch holds the same images, crops and flips as the
   * whole batch does, so data-parallel workers that each assemble their shard of a global batch see
   * exactly what one process would.
   */
  public Batch assemble(int epoch, int[] order, int from, int to) {
    int per = data.imageSize();
    int n = to - from;
    float[] images = new float[n * per];
    int[] labels = new int[n];
    long epochSeed = (seed * 1_000_003L + epoch) * 0x9E3779B97F4A7C15L;
    for (int k = 0; k < n; k++) {
      int i = order[from + k];
      augmentation.apply(data, i, new SplittableRandom(epochSeed + from + k), images, k * per);
      labels[k] = data.label(i);
    }
    return new Batch(images, labels, n);
  }

  /** An epoch's batches. */
  public final class Epoch implements Iterator<Batch>, AutoCloseable {
    private static final Batch END = new Batch(new float[0], new int[0], 0);
    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(2);
    private final Thread worker;
    private Object next;

    private Epoch(int epoch) {
      int[] order = order(epoch);
      worker =
          new Thread(
              () -> {
                try {
                  for (int start = 0; start < order.length; start += batchSize) {
                    int end = Math.min(start + batchSize, order.length);
                    queue.put(assemble(epoch, order, start, end));
                  }
                  queue.put(END);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                  queue.offer(e);
                }
              },
              "anode-data-loader");
      worker.setDaemon(true);
      worker.start();
    }

    @Override
    public boolean hasNext() {
      if (next == null) {
        try {
          next = queue.take();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while waiting for a batch", e);
        }
      }
      if (next instanceof RuntimeException e) {
        throw new IllegalStateException("data loader failed: " + e.getMessage(), e);
      }
      return next != END;
    }

    @Override
    public Batch next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Batch b = (Batch) next;
      next = null;
      return b;
    }

    @Override
    public void close() {
      worker.interrupt();
    }
  }
}
