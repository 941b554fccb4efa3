package org.anode.backend.nd4j;

import org.junit.jupiter.api.Assumptions;

/**
 * The routes of the ND4J backend's float32 convolutions, for tests that run a case on each: oneDNN
 * called directly with activations in its blocked layout of 16 channels (AVX-512's, the default
 * there) or of 8 (AVX2's, the default there), both chosen with {@link OneDnn#BLOCK_PROPERTY} so
 * that every machine runs both; and libnd4j's kernels with channels-last activations (the fallback,
 * chosen with {@link OneDnn#PROPERTY}{@code =false}).
 */
enum ConvolutionRoute {
  ONEDNN_BLOCKED16(StorageLayout.BLOCKED16, "true", "16"),
  ONEDNN_BLOCKED8(StorageLayout.BLOCKED8, "true", "8"),
  LIBND4J_CHANNELS_LAST(StorageLayout.NHWC, "false", null);

  /** The layout a large float32 convolution leaves its result in on this route. */
  final StorageLayout layout;

  private final String enabled;
  private final String block;

  ConvolutionRoute(StorageLayout layout, String enabled, String block) {
    this.layout = layout;
    this.enabled = enabled;
    this.block = block;
  }

  /**
   * Runs {@code body} with this route switched on, then restores the properties. The oneDNN routes
   * are skipped (a JUnit assumption) on a machine where oneDNN is off (no AVX2, or no library), and
   * blocks of 16 where the CPU lacks AVX-512: oneDNN serves them there with its reference kernels,
   * right but ~40× slower (the blocks of 8 run on AVX2's kernels on both kinds of CPU).
   */
  void run(Runnable body) {
    Assumptions.assumeTrue(
        this != ONEDNN_BLOCKED16 || OneDnn.nativeBlockedLayout() == StorageLayout.BLOCKED16,
        "blocks of 16 run on oneDNN's reference kernels without AVX-512");
    with(body);
  }

  /** Runs {@code body} with this route switched on, however slowly the CPU runs it. */
  void with(Runnable body) {
    assumeAvailable();
    String enabledBefore = System.getProperty(OneDnn.PROPERTY);
    String blockBefore = System.getProperty(OneDnn.BLOCK_PROPERTY);
    set(OneDnn.PROPERTY, enabled);
    set(OneDnn.BLOCK_PROPERTY, block);
    try {
      body.run();
    } finally {
      set(OneDnn.PROPERTY, enabledBefore);
      set(OneDnn.BLOCK_PROPERTY, blockBefore);
    }
  }

  private void assumeAvailable() {
    if (layout.isBlocked()) {
      Assumptions.assumeTrue(
          OneDnn.available(), "oneDNN is not called directly here: " + OneDnn.unavailable());
    }
  }

  private static void set(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }
}
