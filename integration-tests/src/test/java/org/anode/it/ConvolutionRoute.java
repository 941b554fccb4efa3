package org.anode.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every way a backend can compute a float32 convolution, as its system properties select it: the
 * routes {@link ShippedModelConvolutionTest} runs. Each value of each convolution property has one
 * (ND4J: {@code anode.nd4j.onednn}, {@code anode.nd4j.onednn.block}, {@code
 * anode.nd4j.convolutionAlgorithm}; DJL: {@code anode.djl.float32Convolutions}).
 */
enum ConvolutionRoute {
  ND4J_ONEDNN_BLOCKS16_AUTO("nd4j", true, "anode.nd4j.onednn.block", "16"),
  ND4J_ONEDNN_BLOCKS16_DIRECT(
      "nd4j", true, "anode.nd4j.onednn.block", "16", "anode.nd4j.convolutionAlgorithm", "direct"),
  ND4J_ONEDNN_BLOCKS8_AUTO("nd4j", false, "anode.nd4j.onednn.block", "8"),
  ND4J_ONEDNN_BLOCKS8_DIRECT(
      "nd4j", false, "anode.nd4j.onednn.block", "8", "anode.nd4j.convolutionAlgorithm", "direct"),
  ND4J_LIBND4J("nd4j", false, "anode.nd4j.onednn", "false"),
  TENSORFLOW("tensorflow", false),
  DJL_AUTO("djl", false, "anode.djl.float32Convolutions", "auto"),
  DJL_PADDED("djl", false, "anode.djl.float32Convolutions", "padded"),
  DJL_FLOAT64("djl", false, "anode.djl.float32Convolutions", "float64");

  /** Every property any route sets: each route clears the ones it does not set. */
  private static final String[] ALL = {
    "anode.nd4j.onednn",
    "anode.nd4j.onednn.block",
    "anode.nd4j.convolutionAlgorithm",
    "anode.djl.float32Convolutions"
  };

  final String backend;
  private final boolean needsAvx512;
  private final Map<String, String> properties = new LinkedHashMap<>();

  ConvolutionRoute(String backend, boolean needsAvx512, String... keyValues) {
    this.backend = backend;
    this.needsAvx512 = needsAvx512;
    for (int i = 0; i < keyValues.length; i += 2) {
      properties.put(keyValues[i], keyValues[i + 1]);
    }
  }

  /**
   * Why this route does not run on this machine, or null. Blocks of 16 need AVX-512: without it,
   * oneDNN serves them with its reference kernels, right but ~40× slower.
   */
  String unavailable() {
    return needsAvx512 && !cpuHas("avx512f") ? "the CPU lacks AVX-512" : null;
  }

  /** Runs {@code body} with this route's properties set (others cleared), then restores them. */
  void with(Runnable body) {
    Map<String, String> before = new LinkedHashMap<>();
    for (String p : ALL) {
      before.put(p, System.getProperty(p));
      set(p, properties.get(p));
    }
    try {
      body.run();
    } finally {
      before.forEach(ConvolutionRoute::set);
    }
  }

  private static void set(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }

  /** Whether /proc/cpuinfo lists {@code flag} (false where it cannot be read). */
  static boolean cpuHas(String flag) {
    try {
      return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
          .filter(l -> l.startsWith("flags"))
          .findFirst()
          .map(l -> (" " + l.substring(l.indexOf(':') + 1) + " ").contains(" " + flag + " "))
          .orElse(false);
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
