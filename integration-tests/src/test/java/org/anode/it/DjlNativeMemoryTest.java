package org.anode.it;

import org.anode.conformance.NativeMemorySuite;

class DjlNativeMemoryTest extends NativeMemorySuite {
  DjlNativeMemoryTest() {
    super("djl");
  }
}
