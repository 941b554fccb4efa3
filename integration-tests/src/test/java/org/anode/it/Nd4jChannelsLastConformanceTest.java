package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.anode.api.Backends;
import org.anode.conformance.BackendConformanceSuite;
import org.junit.jupiter.api.Test;

/**
 * ND4J against the conformance suite with every float32 convolution kept channels-last (threshold 0
 * bytes instead of 4 MiB), so the suite's small float32 cases take the layout that only large
 * convolutions take by default. Each test class runs in a JVM of its own, so the property is set
 * before the backend is first loaded.
 */
class Nd4jChannelsLastConformanceTest extends BackendConformanceSuite {
  static final String PROPERTY = "anode.nd4j.channelsLastMinBytes";

  static {
    System.setProperty(PROPERTY, "0");
  }

  Nd4jChannelsLastConformanceTest() {
    super("nd4j");
  }

  @Test
  void thresholdTookEffect() throws ReflectiveOperationException {
    // The layout policy lives beside the backend class, in its package.
    Class<?> layout =
        Class.forName(
            Backends.get("nd4j").getClass().getPackageName() + ".ChannelsLastLayout",
            true,
            Backends.get("nd4j").getClass().getClassLoader());
    var field = layout.getDeclaredField("MIN_BYTES");
    field.setAccessible(true);
    assertEquals(0L, field.getLong(null));
  }
}
