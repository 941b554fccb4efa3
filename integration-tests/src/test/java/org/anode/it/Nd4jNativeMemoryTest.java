package org.anode.it;

class Nd4jNativeMemoryTest extends NativeMemoryTest {
  Nd4jNativeMemoryTest() {
    super("nd4j");
  }
}
