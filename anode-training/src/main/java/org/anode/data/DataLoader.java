package org.anode.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Batches of an {@link ImageDataset}: shuffled with a seed per epoch (the same seed and epoch give
 * the same order and the same augmentations), transformed by an {@link Augmentation}, and prepared
 * on a background thread two batches ahead, so that the backend never waits on decoding.
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

  /** An epoch's batches. */
  public final class Epoch implements Iterator<Batch>, AutoCloseable {
    private static final Batch END = new Batch(new float[0], new int[0], 0);
    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(2);
    private final Thread worker;
    private Object next;

    private Epoch(int epoch) {
      int[] order = new int[data.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + epoch);
      if (shuffle) {
        for (int i = order.length - 1; i > 0; i--) {
          int j = rng.nextInt(i + 1);
          int t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
      }
      worker =
          new Thread(
              () -> {
                try {
                  int per = data.imageSize();
                  for (int start = 0; start < order.length; start += batchSize) {
                    int n = Math.min(batchSize, order.length - start);
                    float[] images = new float[n * per];
                    int[] labels = new int[n];
                    for (int k = 0; k < n; k++) {
                      int i = order[start + k];
                      augmentation.apply(data, i, rng, images, k * per);
                      labels[k] = data.label(i);
                    }
                    queue.put(new Batch(images, labels, n));
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
