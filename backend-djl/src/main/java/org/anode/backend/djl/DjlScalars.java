package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import org.anode.api.DType;

/**
 * The 0-d libtorch arrays that scalar ops combine with, made once per dtype and value and reused.
 * DJL's {@code NDArray.mul(Number)} makes one for every call: a direct buffer, a JNI crossing to
 * create the array from it and one to free it. A solver's scalars repeat every step (h, its
 * fractions, 0, a batch's 1/M), so a small least-recently-used cache serves nearly all of them; an
 * adaptive solver's changing step sizes evict one another. Each entry holds 4 or 8 bytes.
 */
final class DjlScalars implements AutoCloseable {
  /** Entries kept; the oldest is freed past it. */
  static final int CAPACITY = 256;

  private record Key(DType dtype, long bits) {}

  private final NDManager manager;
  private final Map<Key, NDArray> cache =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, NDArray> eldest) {
          if (size() > CAPACITY) {
            eldest.getValue().close();
            return true;
          }
          return false;
        }
      };

  DjlScalars(NDManager manager) {
    this.manager = manager;
  }

  /**
   * {@code value} as a 0-d array of {@code dtype} (float32 rounds it first: libtorch would promote
   * a float32 tensor combined with a float64 scalar array). Owned by the cache: never close it.
   */
  synchronized NDArray of(double value, DType dtype) {
    if (dtype == DType.FLOAT32) {
      float f = (float) value;
      return cache.computeIfAbsent(
          new Key(dtype, Float.floatToRawIntBits(f)), k -> manager.create(f));
    }
    return cache.computeIfAbsent(
        new Key(dtype, Double.doubleToRawLongBits(value)), k -> manager.create(value));
  }

  /** Number of cached scalars. */
  synchronized int size() {
    return cache.size();
  }

  @Override
  public synchronized void close() {
    cache.values().forEach(NDArray::close);
    cache.clear();
  }
}
