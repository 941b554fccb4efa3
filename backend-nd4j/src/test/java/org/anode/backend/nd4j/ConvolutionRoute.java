package org.anode.backend.nd4j;

import org.junit.jupiter.api.Assumptions;

/**
 * The two routes of the ND4J backend's float32 convolutions, for tests that run a case on both:
 * oneDNN called directly with blocked activations (the default), and libnd4j's kernels with
 * channels-last activations (the fallback, chosen with {@link OneDnn#PROPERTY}{@code =false}).
 */
enum ConvolutionRoute {
  ONEDNN_BLOCKED(StorageLayout.BLOCKED16, "true"),
  LIBND4J_CHANNELS_LAST(StorageLayout.NHWC, "false");

  /** The layout a large float32 convolution leaves its result in on this route. */
  final StorageLayout layout;

  private final String property;

  ConvolutionRoute(StorageLayout layout, String property) {
    this.layout = layout;
    this.property = property;
  }

  /**
   * Runs {@code body} with this route switched on, then restores the property. The oneDNN route is
   * skipped (a JUnit assumption) on a machine where it is off: no AVX-512, or no library.
   */
  void run(Runnable body) {
    if (this == ONEDNN_BLOCKED) {
      Assumptions.assumeTrue(
          OneDnn.available(), "oneDNN is not called directly here: " + OneDnn.unavailable());
    }
    String before = System.getProperty(OneDnn.PROPERTY);
    System.setProperty(OneDnn.PROPERTY, property);
    try {
      body.run();
    } finally {
      if (before == null) {
        System.clearProperty(OneDnn.PROPERTY);
      } else {
        System.setProperty(OneDnn.PROPERTY, before);
      }
    }
  }
}
