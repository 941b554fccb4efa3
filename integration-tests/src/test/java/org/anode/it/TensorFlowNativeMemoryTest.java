package org.anode.it;

import org.anode.conformance.NativeMemorySuite;

class TensorFlowNativeMemoryTest extends NativeMemorySuite {
  TensorFlowNativeMemoryTest() {
    super("tensorflow");
  }
}
