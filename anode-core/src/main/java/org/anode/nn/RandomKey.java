package org.anode.nn;

/**
 * Names a random draw by where it happens instead of by when, so that a recomputation replays it
 * exactly. An {@code OdeBlock} sets the key (forward pass, step, stage) around every evaluation of
 * its field; a stochastic layer such as {@link Dropout} then derives its draw from its own seed and
 * this key. Outside any key, layers draw from their own sequential generator.
 */
public final class RandomKey implements AutoCloseable {
  private static final ThreadLocal<RandomKey> CURRENT = new ThreadLocal<>();
  private final RandomKey previous;
  private final long key;

  private RandomKey(long key) {
    this.previous = CURRENT.get();
    this.key = key;
    CURRENT.set(this);
  }

  /** Makes {@code key} current until closed. */
  public static RandomKey set(long key) {
    return new RandomKey(key);
  }

  /** Combines the parts of a key (pass, step, stage, …) into one value. */
  public static long of(long... parts) {
    long h = 0x9E3779B97F4A7C15L;
    for (long p : parts) {
      h = mix(h ^ p);
    }
    return h;
  }

  /** SplitMix64's finalizer (Steele, Lea, Flood 2014): a bijective 64-bit mix. */
  public static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Whether a key is set on this thread. */
  public static boolean isSet() {
    return CURRENT.get() != null;
  }

  /** The current key; only meaningful when {@link #isSet()}. */
  public static long current() {
    RandomKey k = CURRENT.get();
    return k == null ? 0 : k.key;
  }

  @Override
  public void close() {
    if (CURRENT.get() == this) {
      CURRENT.set(previous);
    }
  }
}
