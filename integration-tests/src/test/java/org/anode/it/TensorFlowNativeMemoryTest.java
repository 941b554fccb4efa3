package org.anode.it;

class TensorFlowNativeMemoryTest extends NativeMemoryTest {
  TensorFlowNativeMemoryTest() {
    super("tensorflow");
  }
}
