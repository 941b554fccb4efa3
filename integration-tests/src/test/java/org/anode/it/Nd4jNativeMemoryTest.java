package org.anode.it;

import org.anode.conformance.NativeMemorySuite;

class Nd4jNativeMemoryTest extends NativeMemorySuite {
  Nd4jNativeMemoryTest() {
    super("nd4j");
  }
}
