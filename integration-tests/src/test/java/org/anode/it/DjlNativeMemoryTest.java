package org.anode.it;

class DjlNativeMemoryTest extends NativeMemoryTest {
  DjlNativeMemoryTest() {
    super("djl");
  }
}
