package org.anode.api;

/**
 * Settings a {@link BackendProvider} creates its backend with.
 *
 * @param threads kernel threads (intra-op parallelism); 0 means the library's default
 */
public record BackendOptions(int threads) {

  /** System property that sets {@link #threads}. */
  public static final String THREADS_PROPERTY = "anode.threads";

  /** Environment variable that sets {@link #threads} when the property is absent. */
  public static final String THREADS_ENV = "ANODE_THREADS";

  public BackendOptions {
    if (threads < 0) {
      throw new IllegalArgumentException("BackendOptions: threads must be >= 0, got " + threads);
    }
  }

  /** Options read from {@code anode.threads} or {@code ANODE_THREADS} (default 0: library's). */
  public static BackendOptions fromEnvironment() {
    String value = System.getProperty(THREADS_PROPERTY);
    String source = THREADS_PROPERTY;
    if (value == null || value.isBlank()) {
      value = System.getenv(THREADS_ENV);
      source = THREADS_ENV;
    }
    if (value == null || value.isBlank()) {
      return new BackendOptions(0);
    }
    try {
      return new BackendOptions(Integer.parseInt(value.trim()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(source + " must be an integer, got '" + value + "'", e);
    }
  }
}
